"""Datasets the project generates itself, offline: the embedded demo's digits (digits.py) and
the upstream corpus of formula-driven fractals the shipped backbone was pre-trained on
(fractals.py). Only numpy, Pillow and scikit-learn: no TensorFlow, nothing of ours."""

"""The model code, apart from the TFX components that run it (TFX templates' models/):

    bit/           the BiT model library: ResNet-v2 (layer names of the published checkpoints),
                   the official .npz weights, TF Hub load and export, the model spec grammar,
                   the serving signatures and the ImageNet classifier
    training/      the Trainer's run_fn and its training loop: augmentation, schedule, linear
                   probe head, checkpoints, preemption, distribution, k-shot
    export/        what a trained model is written as: the SavedModel (saved_model.py), its
                   TF Serving warm-up requests, the TFLite model
    preprocessing  Transform's preprocessing_fn
    backbones/     the shipped pre-trained backbones (weights, card, provenance, checksums)
    predict        classifying images with a pushed model or an ImageNet BiT
    transfer_study the k-shot transfer measurement (linear probe, fine-tuning)

It imports bit_tfx.core (keys, errors, the HyperRule and its Decision) and nothing of the TFX
components (as in TFX's templates) or above. Importing bit_tfx.core
first sets the environment TensorFlow reads (its docstring): a model module loaded by import
path (run_fn, preprocessing_fn) gets it before TensorFlow.
"""
from .. import core  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the test helpers (tests/images.py)

# TF 2.16 defaults to Keras 3; TFX, TFMA and hub.KerasLayer need Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

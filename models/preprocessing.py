"""The Transform graph: what training and serving share, so they cannot skew.

Decodes any supported image (JPEG, PNG incl. 16-bit and palette, GIF first frame,
BMP; grayscale, alpha and CMYK all become 3-channel RGB) with TensorFlow's decoder
(`decode_and_resize` of models/bit/signatures.py, which the ImageNet classifiers
of `bit-tfx predict` use too), resizes it by the HyperRule decision (bilinear, aspect
ratio not kept, as BiT does) and maps the label name to its id in a vocabulary computed
over the data.

Two image outputs: `image_train` at the resize size (160 or 512) that the Trainer
randomly crops, and `image` straight at the crop size (128 or 480), which is what
evaluation and serving use (BiT evaluates without a centre crop). Transform does not
materialise them (no float pixels on disk): the Trainer and the serving signature
apply this graph on the fly.

The HyperRule decision arrives at run time in custom_config["hyperrule"], put there
by HyperRuleTransform's executor from the HyperParameters artifact.
"""
import tensorflow as tf
import tensorflow_transform as tft

from ..core import keys
from ..core.decision import Decision
from .bit.signatures import decode_and_resize


def preprocessing_fn(inputs, custom_config):
    decision = Decision.from_json(custom_config[keys.HYPERRULE_CUSTOM_CONFIG])
    encoded = tf.reshape(inputs[keys.IMAGE_ENCODED], [-1])
    label = tf.reshape(inputs[keys.LABEL_TEXT], [-1])
    return {
        keys.IMAGE_TRAIN: decode_and_resize(encoded, decision.resize_size),
        keys.IMAGE: decode_and_resize(encoded, decision.crop_size),
        keys.LABEL_ID: tft.compute_and_apply_vocabulary(label, vocab_filename=keys.LABEL_VOCABULARY),
    }

"""The exported SavedModel: what TF Serving, TFMA and later runs load.

Signatures:
  serving_default(image_bytes: string [None]) -> classes: string [None, K], scores: float [None, K]
      raw encoded bytes, as TF Serving's REST API hands them over after base64 decoding
      ({"instances": [{"b64": ...}]}); classes best first, scores their probabilities.
      A request holding an image above the run's max_image_pixels (read from the image
      headers before decoding) or bytes that do not decode fails with InvalidArgument,
      that request only (components/bit_model/serving.py).
  serving_examples(examples: string [None]) -> probabilities [None, K]
      serialized tf.Example in the ingestion format, for TFMA.
  transform_features(examples: string [None]) -> the Transform graph's outputs (TFMA's
      preprocessing function, which gives it the label id).

The module also carries the TF Hub reusable-SavedModel attributes (`variables`,
`trainable_variables`, `regularization_losses`, `__call__` on [0, 1] images returning
logits), so a pushed version loads with hub.KerasLayer(path, trainable=True), as in the
BiT tutorial. For warm starts, the backbone alone (images -> pre-logits) is exported beside
it in TF Hub format under assets.extra/backbone, which TF Serving ignores; the model spec
`hub:<serving_dir>/<version>` loads that (components/bit_model/hub.py).
"""
import os

import tensorflow as tf
import tf_keras as keras

from bit_tfx.components import keys
from bit_tfx.components.bit_model import hub as bit_hub, resnet_v2, serving


class ServingModule(serving.BytesServingModule):
    """The pushed model: bytes decoded and resized by the run's Transform graph."""

    def __init__(self, model, tft_output, class_names, max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS):
        super().__init__(model, class_names, name="bit_tfx_model", max_pixels=max_pixels)
        self.tft_layer = tft_output.transform_features_layer()
        self._raw_spec = tft_output.raw_feature_spec()

    def _images_from_bytes(self, image_bytes):
        raw = {keys.IMAGE_ENCODED: tf.reshape(image_bytes, [-1, 1])}
        return self.tft_layer(raw)[keys.IMAGE]

    def _transform(self, examples):
        spec = dict(self._raw_spec)
        parsed = tf.io.parse_example(examples, spec)
        return self.tft_layer(parsed)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples):
        features = self._transform(examples)
        return {"probabilities": tf.nn.softmax(self.classifier(features[keys.IMAGE], training=False))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(self, examples):
        features = self._transform(examples)
        return {keys.LABEL_ID: features[keys.LABEL_ID], keys.IMAGE: features[keys.IMAGE]}


def export(model, tft_output, class_names, export_dir, max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS):
    """The pushed SavedModel; serving_default refuses images above max_pixels (the run's
    max_image_pixels, which the Trainer gets in its custom_config)."""
    module = ServingModule(model, tft_output, class_names, max_pixels=max_pixels).trace()
    signatures = {
        "serving_default": module.serve_bytes.get_concrete_function(),
        "serving_examples": module.serve_examples.get_concrete_function(),
        "transform_features": module.transform_features.get_concrete_function(),
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
    features = keras.Model(model.inputs, model.get_layer(resnet_v2.HEAD_NAME).input)
    backbone = serving.ReusableModule(features, name="bit_backbone").trace()
    tf.saved_model.save(backbone, os.path.join(export_dir, bit_hub.WARM_START_DIR))
    return export_dir

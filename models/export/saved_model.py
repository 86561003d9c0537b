"""The exported SavedModel: what TF Serving, Vertex AI, TFMA and later runs load.

Signatures (names and tensor keys in core/keys.py; `saved_model_cli show --all` in
docs/operations.md, checked by tests/test_serving_artifacts.py):
  serving_default(image_bytes: string [None]) -> classes: string [None, K], scores: float [None, K]
      raw encoded bytes, as TF Serving's REST API hands them over after base64 decoding
      ({"instances": [{"b64": ...}]}); classes best first, scores their probabilities.
      A request holding an image above the run's max_image_pixels (read from the image
      headers before decoding) or bytes that do not decode fails with InvalidArgument,
      that request only (models/bit/signatures.py).
  serving_top_k(image_bytes: string [None], k: int32 [None]) -> classes, scores [None, max k]
      the same with k classes per image (k <= 0: all); a SavedModel signature has no
      optional inputs, so this is a second signature beside serving_default.
  serving_embeddings(image_bytes: string [None]) -> embedding, embedding_l2: float [None, D]
      the pre-logits vector the head sees (D = 2048 x width for R50x1 and up), raw and
      L2-normalised (for cosine similarity search).
  serving_examples(examples: string [None]) -> probabilities [None, K]
      serialized tf.Example in the ingestion format, for TFMA.
  transform_features(examples: string [None]) -> the Transform graph's outputs (TFMA's
      preprocessing function, which gives it the label id).

Files beside the signatures, under assets.extra/ (TF Serving ignores all but the warm-up file):
  tf_serving_warmup_requests   one PredictRequest per serving signature (warmup.py)
  tflite/                      float32 and dynamic-range .tflite of the image function,
                               labels.txt, tflite.json (models/export/tflite.py)
  backbone/                    for warm starts, the backbone alone (images -> pre-logits) in
                               TF Hub format; the model spec `hub:<serving_dir>/<version>`
                               loads that (models/bit/hub.py)
  backbone.npz                 (`bit-tfx pretrain` only) the same weights, head included, in
                               the official BiT .npz naming: `npz:<version>/assets.extra/backbone.npz`

A failed TFLite conversion fails the Trainer (no version is pushed without its promised
files); its checkpoints stay, so running the pipeline again resumes at the last step and
only exports again.

The module also carries the TF Hub reusable-SavedModel attributes (`variables`,
`trainable_variables`, `regularization_losses`, `__call__` on [0, 1] images returning
logits), so a pushed version loads with hub.KerasLayer(path, trainable=True), as in the
BiT tutorial.
"""
import os

import tensorflow as tf
import tf_keras as keras

from ...core import keys
from ..bit import resnet_v2, signatures, weights
from . import tflite
from . import warmup


class ServingModule(signatures.BytesServingModule):
    """The pushed model: bytes decoded and resized by the run's Transform graph."""

    def __init__(self, model, tft_output, class_names, max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS,
                 features=None):
        super().__init__(model, class_names, name="bit_tfx_model", max_pixels=max_pixels,
                         features=features)
        self.tft_layer = tft_output.transform_features_layer()
        self._raw_spec = tft_output.raw_feature_spec()

    def _images_from_bytes(self, image_bytes):
        raw = {keys.IMAGE_ENCODED: tf.reshape(image_bytes, [-1, 1])}
        return self.tft_layer(raw)[keys.IMAGE]

    def _transform(self, examples):
        spec = dict(self._raw_spec)
        parsed = tf.io.parse_example(examples, spec)
        return self.tft_layer(parsed)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=keys.INPUT_EXAMPLES)],
                 autograph=False)
    def serve_examples(self, examples):
        features = self._transform(examples)
        return {keys.OUTPUT_PROBABILITIES: tf.nn.softmax(self.classifier(features[keys.IMAGE], training=False))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=keys.INPUT_EXAMPLES)],
                 autograph=False)
    def transform_features(self, examples):
        features = self._transform(examples)
        return {keys.LABEL_ID: features[keys.LABEL_ID], keys.IMAGE: features[keys.IMAGE]}


def features_model(model):
    """[0, 1] images -> the pre-logits vector (the head's input) of a classifier."""
    return keras.Model(model.inputs, model.get_layer(resnet_v2.HEAD_NAME).input)


class TFLiteConversionError(RuntimeError):
    """The trained model did not convert to TFLite; the Trainer fails rather than hand on a
    version without its .tflite files."""


def transformed_image_size(tft_output):
    """The side of the images the Transform graph hands the model (keys.IMAGE: the HyperRule's
    crop size, models/preprocessing.py). Serving resizes through that graph; the TFLite model,
    which has no Transform graph, takes images of this size: one source for both."""
    shape = tft_output.transformed_feature_spec()[keys.IMAGE].shape
    if len(shape) != 3 or shape[0] != shape[1] or shape[2] != 3:
        raise ValueError(f"the Transform graph's {keys.IMAGE} is {list(shape)}, not [size, size, 3]")
    return int(shape[0])


def export(model, tft_output, class_names, export_dir,
           max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS, backbone_npz=False):
    """The pushed SavedModel with its warm-up requests and TFLite files, both at the image size
    of the Transform graph (transformed_image_size). serving_default refuses images above
    max_pixels (the run's max_image_pixels,
    which the Trainer gets in its custom_config). backbone_npz (pre-training): also the
    weights as keys.BACKBONE_NPZ in the official naming, head included (`npz:` loads it).
    Traced with GroupNorm's autodiff form (resnet_v2.autodiff_group_norm): same values, and a
    SavedModel without the training kernel's hand-written gradient functions."""
    with resnet_v2.autodiff_group_norm():
        features = features_model(model)
        module = ServingModule(model, tft_output, class_names, max_pixels=max_pixels,
                               features=features).trace()
        served = {
            keys.SIGNATURE_CLASSIFY: module.serve_bytes.get_concrete_function(),
            keys.SIGNATURE_TOP_K: module.serve_top_k.get_concrete_function(),
            keys.SIGNATURE_EMBEDDINGS: module.serve_embeddings.get_concrete_function(),
            keys.SIGNATURE_EXAMPLES: module.serve_examples.get_concrete_function(),
            keys.SIGNATURE_TRANSFORM: module.transform_features.get_concrete_function(),
        }
        tf.saved_model.save(module, export_dir, signatures=served)
        backbone = signatures.ReusableModule(features, name="bit_backbone").trace()
        tf.saved_model.save(backbone, os.path.join(export_dir, keys.BACKBONE_DIR))
        if backbone_npz:
            weights.save_npz(model, os.path.join(export_dir, keys.BACKBONE_NPZ))
        warmup.write(export_dir)
        image_size = transformed_image_size(tft_output)
        try:
            tflite.convert(model, image_size, class_names,
                           os.path.join(export_dir, keys.TFLITE_DIR))
        except Exception as e:  # the converter raises ConverterError, ValueError, ...
            raise TFLiteConversionError(
                f"TFLite conversion of the trained model at {image_size}x{image_size} failed: "
                f"{type(e).__name__}: {e}. Nothing was pushed; the Trainer's checkpoints are kept, "
                "so running the pipeline again resumes at the last step and exports again") from e
    return export_dir

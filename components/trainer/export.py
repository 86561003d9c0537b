"""The exported SavedModel: what TF Serving, TFMA and later runs load.

Signatures:
  serving_default(image_bytes: string [None]) -> classes: string [None, K], scores: float [None, K]
      raw encoded bytes, as TF Serving's REST API hands them over after base64 decoding
      ({"instances": [{"b64": ...}]}); classes best first, scores their probabilities.
      A request with bytes that do not decode fails with InvalidArgument for that
      request only.
  serving_examples(examples: string [None]) -> probabilities [None, K]
      serialized tf.Example in the ingestion format, for TFMA.
  transform_features(examples: string [None]) -> the Transform graph's outputs (TFMA's
      preprocessing function, which gives it the label id).

The module also carries the trained Keras model as `classifier`, and the tf.Module
attributes TF Hub needs (`variables`, `trainable_variables`, `regularization_losses`,
`__call__` on [0, 1] images returning pre-softmax logits), so a pushed version loads with
hub.KerasLayer(path, trainable=True) and serves as the backbone spec of a later run.
"""
import tensorflow as tf

from components import keys


class ServingModule(tf.Module):
    # tf.Module computes these as properties; TF Hub's reusable SavedModel API needs them
    # saved as attributes, so the class shadows them and __init__ sets tracked lists.
    variables = None
    trainable_variables = None

    def __init__(self, model, tft_output, class_names):
        super().__init__(name="bit_tfx_model")
        self.classifier = model
        self.tft_layer = tft_output.transform_features_layer()
        self.class_names = tf.constant(class_names)
        self._raw_spec = tft_output.raw_feature_spec()
        self.variables = list(model.variables)
        self.trainable_variables = list(model.trainable_variables)
        self.regularization_losses = []

    @tf.function
    def __call__(self, images, training=False):
        """TF Hub reusable-SavedModel call: [0, 1] images -> logits."""
        return tf.cast(self.classifier(images, training=training), tf.float32)

    def _images_from_bytes(self, image_bytes):
        raw = {keys.IMAGE_ENCODED: tf.reshape(image_bytes, [-1, 1])}
        return self.tft_layer(raw)[keys.IMAGE]

    def _transform(self, examples):
        spec = dict(self._raw_spec)
        parsed = tf.io.parse_example(examples, spec)
        return self.tft_layer(parsed)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(self, image_bytes):
        probabilities = tf.nn.softmax(self.classifier(self._images_from_bytes(image_bytes), training=False))
        k = tf.shape(self.class_names)[0]
        top = tf.math.top_k(probabilities, k=k)
        return {"classes": tf.gather(self.class_names, top.indices), "scores": top.values}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples):
        features = self._transform(examples)
        return {"probabilities": tf.nn.softmax(self.classifier(features[keys.IMAGE], training=False))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(self, examples):
        features = self._transform(examples)
        return {keys.LABEL_ID: features[keys.LABEL_ID], keys.IMAGE: features[keys.IMAGE]}


def export(model, tft_output, class_names, export_dir):
    module = ServingModule(model, tft_output, class_names)
    images = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    for training in (False, True):  # hub.KerasLayer(trainable=True) calls both
        module.__call__.get_concrete_function(images, training=training)
    signatures = {
        "serving_default": module.serve_bytes.get_concrete_function(),
        "serving_examples": module.serve_examples.get_concrete_function(),
        "transform_features": module.transform_features.get_concrete_function(),
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
    return export_dir

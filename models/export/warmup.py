"""TF Serving's warm-up file for the pushed model: keys.WARMUP_FILE (assets.extra/
tf_serving_warmup_requests), a TFRecord of PredictionLog records holding PredictRequests
(tensorflow-serving-api's protos). TF Serving replays them when it loads a version, before
the version takes traffic, so the first real request does not pay for graph initialisation
(for R50x1 at 480 that is seconds).

One request per serving signature (serving_default, serving_top_k, serving_embeddings), each
with real encoded images made here: a JPEG and a PNG of a smooth gradient, WARMUP_IMAGE_SIZE
pixels square, so both decoders, the resize and the model run. model_spec carries the
signature name only: TF Serving replays warm-up requests on the version it is loading,
whatever model name they carry.
"""
import os

from ...core import keys

WARMUP_IMAGE_SIZE = 64
WARMUP_SIGNATURES = (keys.SIGNATURE_CLASSIFY, keys.SIGNATURE_TOP_K, keys.SIGNATURE_EMBEDDINGS)


def warmup_images():
    """[JPEG bytes, PNG bytes] of the same gradient image."""
    import numpy as np
    import tensorflow as tf
    ramp = np.linspace(0, 255, WARMUP_IMAGE_SIZE, dtype=np.float32)
    pixels = np.stack([ramp[None, :].repeat(WARMUP_IMAGE_SIZE, 0),
                       ramp[:, None].repeat(WARMUP_IMAGE_SIZE, 1),
                       np.full((WARMUP_IMAGE_SIZE, WARMUP_IMAGE_SIZE), 128, np.float32)], -1)
    pixels = tf.constant(pixels.astype(np.uint8))
    return [tf.io.encode_jpeg(pixels).numpy(), tf.io.encode_png(pixels).numpy()]


def requests():
    """The PredictRequests of the warm-up file, in order."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    images = warmup_images()
    out = []
    for signature in WARMUP_SIGNATURES:
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = signature
        request.inputs[keys.INPUT_IMAGE_BYTES].CopyFrom(tf.make_tensor_proto(images, tf.string))
        if signature == keys.SIGNATURE_TOP_K:
            request.inputs[keys.INPUT_K].CopyFrom(tf.make_tensor_proto([5, 1], tf.int32))
        out.append(request)
    return out


def write(export_dir):
    """Writes keys.WARMUP_FILE under export_dir; returns its path."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    path = os.path.join(export_dir, keys.WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests():
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read(path):
    """The PredictRequests of a warm-up file (what TF Serving replays)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    out = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        out.append(log.predict_log.request)
    return out

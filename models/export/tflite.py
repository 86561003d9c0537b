"""TFLite for mobile and edge: a classifier as `.tflite` files, and running them.

What converts is the image function, not the bytes one: [1, size, size, 3] float32 images in
[0, 1] (decoded and resized by the caller, bilinear, without keeping the aspect ratio, as
the pushed model's Transform graph does) -> `probabilities` [1, K] (softmax, in class-index
order). Raw-bytes decoding (tf.io.decode_image) has no TFLite builtin op; converting it would
need the Select TF ops runtime on every device.

Two variants (keys.TFLITE_FLOAT32, keys.TFLITE_DYNAMIC_RANGE):
  float32        weights and activations float32: the SavedModel's numbers up to float
                 reordering (FLOAT32_ATOL).
  dynamic range  tf.lite.Optimize.DEFAULT without a representative dataset: weights stored
                 as int8 (about 4x smaller), activations float, dequantised on the fly;
                 probabilities move by up to DYNAMIC_RANGE_ATOL on the tests' models.

The class names go beside them as keys.TFLITE_LABELS in the format TFLite metadata gives an
associated TENSOR_AXIS_LABELS file (one name per line, line i = class index i). They are not
packed into the .tflite as metadata: tflite-support 0.4.4 (the library that writes it)
installs with our pins but does not import (its two pybind modules both register
`StatusCode`), so `MetadataWriter` cannot run here; docs/operations.md says how to pack them.
"""
import json
import os

from ...core import keys

FLOAT32_ATOL = 1e-5         # |p_tflite - p_savedmodel| per class, float32 variant
DYNAMIC_RANGE_ATOL = 0.1    # the same for the dynamic-range variant (int8 weights): 0.055 seen on
                            # the seeded tiny test model, 0.088 on random-weight R50x1 (bench)
VARIANTS = {keys.TFLITE_FLOAT32: FLOAT32_ATOL, keys.TFLITE_DYNAMIC_RANGE: DYNAMIC_RANGE_ATOL}


def probabilities_function(model, size):
    """The concrete function TFLite converts: images [1, size, size, 3] in [0, 1] ->
    {"probabilities": [1, K]}."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="images")],
                 autograph=False)
    def probabilities(images):
        logits = tf.cast(model(images, training=False), tf.float32)
        return {keys.OUTPUT_PROBABILITIES: tf.nn.softmax(logits)}

    return probabilities.get_concrete_function()


def convert(model, size, class_names, out_dir):
    """Writes both variants, the labels file and keys.TFLITE_INFO into out_dir; returns the
    info (file sizes, input, tolerances). Raises what the converter raises."""
    import tensorflow as tf
    function = probabilities_function(model, size)
    tf.io.gfile.makedirs(out_dir)
    sizes = {}
    for name in VARIANTS:
        # Without a trackable object the converter freezes the function's variables itself;
        # with the model as one it saves and reloads a SavedModel first: for the tiny test
        # model, 6 s against 45-65 s per variant on 2 CPU cores.
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
        if name == keys.TFLITE_DYNAMIC_RANGE:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        flatbuffer = converter.convert()
        with tf.io.gfile.GFile(os.path.join(out_dir, name), "wb") as f:
            f.write(flatbuffer)
        sizes[name] = len(flatbuffer)
    with tf.io.gfile.GFile(os.path.join(out_dir, keys.TFLITE_LABELS), "w") as f:
        f.write("".join(f"{_label(n)}\n" for n in class_names))
    info = {"input": {"name": "images", "shape": [1, size, size, 3], "dtype": "float32",
                      "range": [0.0, 1.0],
                      "preprocessing": "decode to RGB, bilinear resize to size x size without "
                                       "keeping the aspect ratio, divide by 255"},
            "output": {"name": keys.OUTPUT_PROBABILITIES, "shape": [1, len(class_names)],
                       "labels": keys.TFLITE_LABELS},
            "files": {name: {"bytes": sizes[name], "probability_atol": atol}
                      for name, atol in VARIANTS.items()}}
    with tf.io.gfile.GFile(os.path.join(out_dir, keys.TFLITE_INFO), "w") as f:
        json.dump(info, f, indent=2)
    return info


def _label(name):
    name = name.decode("utf-8") if isinstance(name, bytes) else str(name)
    if "\n" in name or "\r" in name:
        raise ValueError(f"class name {name!r} has a line break: the TFLite labels file holds "
                         "one name per line")
    return name


def read_labels(tflite_dir):
    with open(os.path.join(tflite_dir, keys.TFLITE_LABELS), encoding="utf-8") as f:
        return f.read().splitlines()


def run(path, images):
    """Probabilities [N, K] of the .tflite at `path` for images [N, size, size, 3] in [0, 1],
    one image per invoke (the model's batch is 1), with TensorFlow's TFLite interpreter."""
    import numpy as np
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    source, = interpreter.get_input_details()
    target, = interpreter.get_output_details()
    out = []
    for image in np.asarray(images, np.float32):
        interpreter.set_tensor(source["index"], image[None])
        interpreter.invoke()
        out.append(interpreter.get_tensor(target["index"])[0].copy())
    return np.stack(out)

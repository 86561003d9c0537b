"""Serving benchmark: TFLite float32 and dynamic-range latency per image and file size against
the SavedModel, in the same run, on the same images.

For each architecture and size: a classifier with deterministic random weights (a random
head, so the classes differ), converted by the pipeline's own code
(models/export/tflite.py), and saved as a SavedModel of the same function
(images [1, size, size, 3] in [0, 1] -> probabilities). Each is called one image at a time
(what a mobile app or a single-image request does), after one warm-up call; the table gives
the median ms per image over --images images, the model's size on disk, the conversion time,
and the largest probability difference and top-1 agreement against the SavedModel.

    python bench/serving.py [--archs tiny R50x1] [--sizes 128] [--images 20] [--threads 2]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bit_tfx.components  # noqa: E402,F401  first: the environment TensorFlow reads at import

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bit_tfx.models.bit import build_classifier, resnet_v2  # noqa: E402
from bit_tfx.models.export import tflite  # noqa: E402

CLASSES = 10


def make_model(arch, seed=0):
    model = build_classifier(f"random:{arch}", CLASSES)
    head = model.get_layer(resnet_v2.HEAD_NAME)
    rng = np.random.default_rng(seed)
    head.kernel.assign(rng.normal(0, 0.05, head.kernel.shape).astype(np.float32))
    head.bias.assign(rng.normal(0, 0.5, head.bias.shape).astype(np.float32))
    return model


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def bench(arch, size, n_images, threads, work):
    model = make_model(arch)
    pixels = np.random.default_rng(1).random((n_images, size, size, 3)).astype(np.float32)
    saved = os.path.join(work, f"{arch}-{size}-savedmodel")
    module = tf.Module()
    module.model = model
    module.serve = tflite.probabilities_function(model, size)
    tf.saved_model.save(module, saved, signatures={"serving_default": module.serve})
    signature = tf.saved_model.load(saved).signatures["serving_default"]
    started = time.perf_counter()
    info = tflite.convert(model, size, [f"class_{i}" for i in range(CLASSES)],
                          os.path.join(work, f"{arch}-{size}-tflite"))
    convert_s = time.perf_counter() - started

    def saved_model_call(image):
        return signature(images=tf.constant(image[None]))["probabilities"].numpy()[0]

    rows = [("SavedModel", dir_bytes(saved), None, saved_model_call)]
    for name in tflite.VARIANTS:
        interpreter = tf.lite.Interpreter(model_path=os.path.join(work, f"{arch}-{size}-tflite", name),
                                          num_threads=threads)
        interpreter.allocate_tensors()
        source, = interpreter.get_input_details()
        target, = interpreter.get_output_details()

        def call(image, interpreter=interpreter, source=source, target=target):
            interpreter.set_tensor(source["index"], image[None])
            interpreter.invoke()
            return interpreter.get_tensor(target["index"])[0].copy()
        rows.append((name, info["files"][name]["bytes"], convert_s / len(tflite.VARIANTS), call))
    reference = None
    out = []
    for name, size_bytes, convert, call in rows:
        call(pixels[0])  # warm-up
        times, probabilities = [], []
        for image in pixels:
            t = time.perf_counter()
            probabilities.append(call(image))
            times.append(time.perf_counter() - t)
        probabilities = np.stack(probabilities)
        if reference is None:
            reference = probabilities
        out.append({"arch": arch, "size": size, "model": name, "mb": size_bytes / 1e6,
                    "ms": 1000 * statistics.median(times), "convert_s": convert,
                    "max_diff": float(np.abs(probabilities - reference).max()),
                    "top1": float((probabilities.argmax(1) == reference.argmax(1)).mean())})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", default=["tiny", "R50x1"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[128])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="TFLite interpreter threads")
    args = parser.parse_args(argv)
    print(f"TF {tf.__version__}, {os.cpu_count()} CPUs, TFLite threads {args.threads}, "
          f"{args.images} images, batch 1", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for arch in args.archs:
            for size in args.sizes:
                results.extend(bench(arch, size, args.images, args.threads, work))
    print("| arch | size | model | MB | ms / image (median) | vs SavedModel | conversion s "
          "| max prob diff | top-1 agreement |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    base = {}
    for r in results:
        base.setdefault((r["arch"], r["size"]), r["ms"])
        ratio = r["ms"] / base[(r["arch"], r["size"])]
        convert = "-" if r["convert_s"] is None else f"{r['convert_s']:.1f}"
        print(f"| {r['arch']} | {r['size']} | {r['model']} | {r['mb']:.1f} | {r['ms']:.1f} | "
              f"{ratio:.2f}x | {convert} | {r['max_diff']:.2g} | {r['top1']:.2f} |")


if __name__ == "__main__":
    main()

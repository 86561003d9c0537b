"""Trainer benchmark: overhead against a bare loop, input pipeline against the model,
storage ratio, and the demo's wall time fresh and fully cached.

    python bench/trainer.py [--work DIR] [--steps 20] [--repeats 3] [--model random:tiny]

1. Runs `bit-tfx demo` in a fresh output folder (timed), then again (timed: every
   component is a cache hit).
2. From that run's artifacts (examples, transform graph, HyperRule decision) measures, on
   the same model, data and batch:
   - bare loop: a plain tf.function SGD step on batches already in memory (the model's
     own consumption rate, no input work);
   - pipeline Trainer: bit_tfx.models.training.run's optimiser step fed by its real input
     pipeline (raw examples -> Transform graph -> crop/flip -> MixUp);
   - input pipeline alone: the same dataset iterated without a model.
   Ratios: Trainer / bare (target >= 0.95) and input / model (target >= 3).
3. Storage: bytes of the Examples artifact per image / bytes of the original files.
Medians over repeats. Note that on a CPU-only machine the input pipeline and the model
compete for the same cores, so the input/model ratio is lower than on a GPU host.
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bit_tfx.components import keys  # noqa: E402  first: the environment TensorFlow reads at import


def timed_demo(output):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bit_tfx.cli.main", "demo", "--output", output], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def folder_bytes(pattern):
    return sum(os.path.getsize(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))


class _Accessor:
    """The one DataAccessor method train_dataset uses, over TFXIO as TFX builds it."""

    def tf_dataset_factory(self, files, options, schema):
        from tfx_bsl.tfxio import tf_example_record
        return tf_example_record.TFExampleRecord(
            file_pattern=files, schema=schema, telemetry_descriptors=["bench"]).TensorFlowDataset(options)


def rate(fn, steps, images_per_step):
    fn()  # warm-up: tracing and first batches excluded
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return steps * images_per_step / (time.perf_counter() - start)


def measure(output, model_spec, steps, repeats):
    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft
    import tf_keras as keras

    from bit_tfx.components.hyperrule.component import read_decision
    from bit_tfx.models.bit import build_classifier
    from bit_tfx.models.training import augment, run
    from bit_tfx.pipeline import metadata

    store = metadata.open_store(os.path.join(output, "metadata.sqlite"))

    def uri(node, key):
        return metadata.latest_output(store, keys.DEFAULT_PIPELINE_NAME, node, key)[1].uri

    decision = read_decision(uri(keys.NODE_HYPERRULE, keys.HYPERPARAMETERS_KEY))
    tft_output = tft.TFTransformOutput(uri(keys.NODE_TRANSFORM, keys.TRANSFORM_GRAPH_KEY))
    files = glob.glob(os.path.join(uri(keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY), "Split-train", "*.gz"))
    num_classes = len(tft_output.vocabulary_by_name(keys.LABEL_VOCABULARY))
    batch = int(decision.effective_batch_size)
    strategy = tf.distribute.get_strategy()
    config = run.TrainerConfig(model_spec=model_spec)
    dataset = run.train_dataset(files, _Accessor(), tft_output, batch, decision, decision.seed)
    iterator = iter(dataset)
    trainer = run.Trainer(strategy, build_classifier(model_spec, num_classes), decision, config, num_classes)

    bare_model = build_classifier(model_spec, num_classes)
    optimizer = keras.optimizers.SGD(learning_rate=0.001, momentum=0.9)
    crop = decision.crop_size
    x = tf.constant(np.random.default_rng(0).random((batch, crop, crop, 3), np.float32))
    y = tf.one_hot(tf.constant(np.arange(batch) % num_classes), num_classes)

    @tf.function
    def bare_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(y, bare_model(x, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, bare_model.trainable_variables),
                                      bare_model.trainable_variables))

    def pipeline_step():
        images, labels = next(iterator)
        trainer.step(images, labels)

    @tf.function
    def mix(images, labels):
        lam = augment.sample_mixup_lambda(decision.mixup_alpha or 0.1, tf.constant([0, 1], tf.int64))
        return augment.mixup(images, tf.one_hot(labels, num_classes), lam)

    results = {"bare": [], "trainer": [], "input": []}
    for _ in range(repeats):
        results["bare"].append(rate(bare_step, steps, batch))
        results["trainer"].append(rate(pipeline_step, steps, batch))
        # A fresh iterator each time, over 4x the steps, so batches prefetched while the
        # model ran are not counted as input throughput.
        fresh = iter(run.train_dataset(files, _Accessor(), tft_output, batch, decision, seed=1))

        def input_only():
            images, labels = next(fresh)
            mix(images, labels)[0].numpy()
        results["input"].append(rate(input_only, 4 * steps, batch))
    medians = {k: statistics.median(v) for k, v in results.items()}
    return medians, decision, batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "bit-tfx-bench-trainer"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="random:tiny")
    args = ap.parse_args()
    output = os.path.join(args.work, "demo")
    subprocess.run(["rm", "-rf", output], check=True)
    fresh = timed_demo(output)
    cached = timed_demo(output)
    medians, decision, batch = measure(output, args.model, args.steps, args.repeats)
    original = folder_bytes(os.path.join(output, "demo-data", "**", "*.png"))
    stored = folder_bytes(os.path.join(output, "pipeline_root", keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY,
                                       "*", "Split-*", "*"))
    transform_stored = folder_bytes(os.path.join(output, "pipeline_root", keys.NODE_TRANSFORM,
                                                 keys.TRANSFORMED_EXAMPLES_KEY, "**"))

    print(f"\nTrainer benchmark: model {args.model}, batch {batch}, crop {decision.crop_size}, "
          f"{args.steps} steps x {args.repeats} repeats (medians), {os.cpu_count()} CPU cores\n")
    print("| measurement | images/s |")
    print("|---|---:|")
    print(f"| bare custom loop (batches in memory) | {medians['bare']:.1f} |")
    print(f"| pipeline Trainer step fed by its input pipeline | {medians['trainer']:.1f} |")
    print(f"| input pipeline alone (decode, resize, crop, flip, MixUp) | {medians['input']:.1f} |")
    print(f"\nTrainer / bare loop: {medians['trainer'] / medians['bare']:.2f}x (target >= 0.95)")
    print(f"input pipeline / model consumption: {medians['input'] / medians['bare']:.2f}x (target >= 3)")
    print(f"storage: examples {stored / 2**20:.2f} MB for originals {original / 2**20:.2f} MB -> "
          f"{stored / original:.2f}x; Transform materialised {transform_stored} bytes")
    print(f"demo wall time: fresh {fresh:.1f} s, fully cached re-run {cached:.1f} s")


if __name__ == "__main__":
    main()

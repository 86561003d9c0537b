"""Trainer benchmark: where a training step's time goes, against TensorFlow's own floor; the
demo's wall time by component; the pipeline Trainer's overhead and input pipeline.

    python bench/trainer.py [--work DIR] [--steps 20] [--repeats 3] [--model random:tiny]
                            [--step-steps 2] [--step-repeats 3] [--skip-demo]

1. Training step (forward, backward, SGD-momentum update on one batch in memory; tf.function;
   medians over repeats), each case in a fresh process per oneDNN setting
   (TF_ENABLE_ONEDNN_OPTS is read once, at TensorFlow's import):
   - BiT R50x1 (GroupNorm + weight standardisation) at 128x128, batch 32, as shipped;
   - the same with GroupNorm differentiated by autodiff (the layer before issue 31);
   - tf.keras.applications.ResNet50V2 (BatchNorm), same size and batch: TensorFlow's own floor;
   - the `small` backbone of the demo (128x128, batch 16), as shipped and with autodiff GN.
   Ratio: our R50x1 step / ResNet50V2's (target >= 1.0).
2. Runs `bit-tfx demo` in a fresh output folder and prints its wall time split by component
   (the console's "done in" lines) and the Trainer's own split (linear probe, steps, export),
   then runs it again (nothing new: exit 4, the start-up and the cache check).
3. From that run's artifacts (examples, transform graph, HyperRule decision) measures, on
   the same model, data and batch:
   - bare loop: a plain tf.function SGD step on batches already in memory (the model's
     own consumption rate, no input work);
   - pipeline Trainer: bit_tfx.models.training.run's optimiser step fed by its real input
     pipeline (raw examples -> Transform graph -> crop/flip -> MixUp);
   - input pipeline alone: the same dataset iterated without a model.
   Ratios: Trainer / bare (target >= 0.95) and input / model (target >= 3).
4. Storage: bytes of the Examples artifact per image / bytes of the original files.
Note that on a CPU-only machine the input pipeline and the model compete for the same cores,
so the input/model ratio is lower than on a GPU host.
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bit_tfx.core import keys  # noqa: E402  first: the environment TensorFlow reads at import


STEP_CASES = (  # (label, builder, arch, image size, batch)
    ("BiT R50x1 (GroupNorm + WS), as shipped", "bit", "R50x1", 128, 32),
    ("BiT R50x1, GroupNorm by autodiff (before)", "bit-autodiff-gn", "R50x1", 128, 32),
    ("tf.keras ResNet50V2 (BatchNorm)", "keras-resnet50v2", "R50x1", 128, 32),
    ("BiT small (the demo's backbone), as shipped", "bit", "small", 128, 16),
    ("BiT small, GroupNorm by autodiff (before)", "bit-autodiff-gn", "small", 128, 16),
)
ONEDNN = ("0", "1")


def step_worker(case, steps, repeats):
    """In this process (TF_ENABLE_ONEDNN_OPTS fixed at import, one model: cases sharing a
    process slowed each other by up to a fifth): images/s of STEP_CASES[case]'s training step,
    `repeats` times; prints one JSON line."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from bit_tfx.models.bit import resnet_v2

    _, builder, arch, size, batch = STEP_CASES[case]
    if builder == "bit-autodiff-gn":   # the layer calls the module's group_norm when traced
        resnet_v2.group_norm = resnet_v2.group_norm_reference
    if builder == "keras-resnet50v2":
        model = keras.applications.ResNet50V2(weights=None, classes=10, input_shape=(size, size, 3),
                                              classifier_activation=None)
    else:
        model = resnet_v2.build(arch, num_classes=10, input_shape=(size, size, 3))
    optimizer = keras.optimizers.SGD(0.001, momentum=0.9)
    x = tf.constant(np.random.default_rng(0).random((batch, size, size, 3), np.float32))
    y = tf.one_hot(np.arange(batch) % 10, 10)

    @tf.function(autograph=False)   # as the Trainer's step
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(y, model(x, training=True)))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    step().numpy()   # tracing excluded
    step().numpy()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step().numpy()
        rates.append(steps * batch / (time.perf_counter() - start))
    print(json.dumps(rates))


def step_rates(steps, repeats):
    """{oneDNN setting: [median images/s per case]}, each case and setting in a fresh process."""
    out = {}
    for setting in ONEDNN:
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting)
        out[setting] = []
        for case in range(len(STEP_CASES)):
            done = subprocess.run([sys.executable, __file__, "--step-worker", str(case), "--step-steps",
                                   str(steps), "--step-repeats", str(repeats)], env=env, cwd=ROOT,
                                  check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            out[setting].append(statistics.median(json.loads(done.stdout.strip().splitlines()[-1])))
    return out


DONE = re.compile(r"\[\d+/\d+\] (\w+) done in ([\d.]+) s")
TRAINER_PARTS = (("linear probe", re.compile(r"linear probe .* in ([\d.]+) s")),
                 ("training steps", re.compile(r"Trained \d+ steps in ([\d.]+) s")),
                 ("export (SavedModel, TF Hub backbone, TFLite)", re.compile(r"Exported .* in ([\d.]+) s")))


def timed_demo(output, allowed=(0,)):
    """(wall seconds, the console's stderr and stdout) of `bit-tfx demo --output OUTPUT`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bit_tfx.cli.main", "demo", "--output", output],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode not in allowed:
        sys.exit(f"bit-tfx demo exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, done.stderr + done.stdout


def demo_split(console):
    """[(component, seconds)] from the console's 'done in' lines, and the Trainer's parts."""
    components = [(name, float(sec)) for name, sec in DONE.findall(console)]
    parts = []
    for label, pattern in TRAINER_PARTS:
        found = pattern.search(console)
        if found:
            parts.append((label, float(found.group(1))))
    return components, parts


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

    from bit_tfx.core.decision import read_decision
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


def cpu_flags():
    """The CPU's model name and whether it has AVX-512 (the two machine kinds of this project)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
    except OSError:
        return "unknown CPU", "unknown"
    name = re.search(r"model name\s*:\s*(.*)", info)
    return (name.group(1).strip() if name else "unknown CPU"), ("yes" if "avx512f" in info else "no")


def print_steps(rates, steps, repeats):
    print(f"\nTraining step (forward, backward, SGD update; tf.function, batch in memory), "
          f"{steps} steps x {repeats} repeats (medians), images/s:\n")
    print("| case | size, batch | oneDNN off | oneDNN on (the default now) |")
    print("|---|---|---:|---:|")
    for i, (label, _, _, size, batch) in enumerate(STEP_CASES):
        print(f"| {label} | {size}, {batch} | {rates['0'][i]:.1f} | {rates['1'][i]:.1f} |")
    for setting, name in (("1", "on"), ("0", "off")):
        ours, keras_floor = rates[setting][0], rates[setting][2]
        print(f"our R50x1 / tf.keras ResNet50V2, oneDNN {name}: {ours / keras_floor:.2f}x (target >= 1.0)")
    print(f"shipped / before (oneDNN off, autodiff GroupNorm): R50x1 {rates['1'][0] / rates['0'][1]:.2f}x, "
          f"small {rates['1'][3] / rates['0'][4]:.2f}x")


def print_demo(fresh, console, rerun):
    components, parts = demo_split(console)
    print(f"\n`bit-tfx demo`, fresh output folder: {fresh:.1f} s wall (target < 240 s)\n")
    print("| component | seconds |")
    print("|---|---:|")
    for name, sec in components:
        print(f"| {name} | {sec:.1f} |")
    for label, sec in parts:
        print(f"| Trainer: {label} | {sec:.1f} |")
    outside = fresh - sum(sec for _, sec in components)
    print(f"| outside the components (process start, imports, DAG, report) | {outside:.1f} |")
    accuracy = re.search(r'"sparse_categorical_accuracy": ([\d.]+)', console)
    print(f"\neval accuracy {accuracy.group(1) if accuracy else '?'}; the same demo again (nothing new, "
          f"exit 4): {rerun:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "bit-tfx-bench-trainer"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="random:tiny")
    ap.add_argument("--step-steps", type=int, default=2, help="steps per repeat of the step cases")
    ap.add_argument("--step-repeats", type=int, default=3)
    ap.add_argument("--skip-demo", action="store_true", help="the step table only")
    ap.add_argument("--step-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step_worker is not None:
        return step_worker(args.step_worker, args.step_steps, args.step_repeats)
    cpu, avx512 = cpu_flags()
    print(f"machine: {cpu}, {os.cpu_count()} CPU cores, AVX-512: {avx512}")
    rates = step_rates(args.step_steps, args.step_repeats)
    print_steps(rates, args.step_steps, args.step_repeats)
    if args.skip_demo:
        return
    output = os.path.join(args.work, "demo")
    subprocess.run(["rm", "-rf", output], check=True)
    fresh, console = timed_demo(output)
    rerun, _ = timed_demo(output, allowed=(4,))
    print_demo(fresh, console, rerun)
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


if __name__ == "__main__":
    main()

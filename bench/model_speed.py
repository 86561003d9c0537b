"""Model speed benchmark: forward+backward images/s of the native BiT.

CPU mode (default): 128x128, batch 32, R50x1 and the `tiny` smoke variant. Compares
  (a) plain eager, (b) tf.function, (c) tf.function(jit_compile=True) (XLA),
crossed with the two weight-standardisation formulations of resnet_v2:
  moments  the straightforward one (tf.nn.moments, (w - mean) / sqrt(var + eps)) = baseline
  fused    one centring pass reused for the variance, multiply by rsqrt.
Checks numerical identity (max |diff| of logits and gradients) between formulations and
between modes, then prints a Markdown table of medians over repeats with ratios against
the moments/eager baseline measured in the same run.

    python bench/model_speed.py [--quick] [--archs tiny R50x1] [--repeats 3] [--steps 1]

GPU mode (prepared for a GPU machine; not run on this project's CPU machines):
R50x1 at 480x480, a real SGD-momentum train step under tf.function + XLA, in float32
(baseline), mixed_bfloat16, and mixed_float16 with dynamic loss scaling. Reports images/s
and the share of the GPU's peak FLOP/s, with FLOPs counted analytically
(resnet_v2.flops_per_image: 2 x multiply-adds of every conv and the head; a training step
= 3 x forward). Peak: --peak-tflops, default 989 = H100 SXM dense BF16/FP16 tensor-core
peak (H100 PCIe: 756; H200: 989; float32 rows are compared against the same number, so
their share reads low by design — TF32 dense peak is 494 on H100 SXM).

    python bench/model_speed.py --gpu [--batch 64] [--peak-tflops 989]
    python bench/model_speed.py --gpu --dry-run    # the GPU code path on CPU, tiny size
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bit_tfx.components  # noqa: E402,F401  first: the environment TensorFlow reads at import

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from bit_tfx.models.bit import resnet_v2  # noqa: E402

CLASSES = 10
MODES = ("eager", "function", "xla")
FORMULATIONS = ("moments", "fused")


def make_model(arch, ws, size, classes=CLASSES, seed=0):
    """A classifier with deterministic random weights and a non-zero head (so gradients
    reach the backbone, as after the first training step)."""
    model = resnet_v2.build(arch, num_classes=classes, input_shape=(size, size, 3), ws=ws)
    rng = np.random.default_rng(seed)
    for v in model.weights:
        value = rng.normal(0, 0.05, v.shape).astype(np.float32)
        if v.name.endswith("gamma:0"):
            value += 1.0
        v.assign(value)
    return model


def make_grad_step(model, mode):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
        return loss, logits, tape.gradient(loss, model.trainable_variables)

    if mode == "eager":
        return step
    return tf.function(step, jit_compile=(mode == "xla"))


def time_steps(fn, args, steps):
    """Seconds per step, averaged over `steps` consecutive steps."""
    t0 = time.perf_counter()
    for _ in range(steps):
        out = fn(*args)
    float(out[0])
    _ = out[-1][0].numpy()
    return (time.perf_counter() - t0) / steps


def log(msg):
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def compare(ref, out):
    """(logits max |diff|, worst and median per-tensor relative gradient diff).

    Relative = max |diff| / max |ref| of each gradient tensor. Gradients of the raw kernels
    of a weight-standardised net are ill-conditioned (GN downstream makes the loss nearly
    invariant to each kernel's scale); a ReLU input that rounds to the other side of 0
    moves a few gradient entries by ~1e-3 relative. That is float rounding, not a
    formulation difference, and it happens between eager and XLA of the same formulation.
    """
    logits = float(tf.reduce_max(tf.abs(ref[1] - out[1])))
    rel = [float(tf.reduce_max(tf.abs(a - b)) / tf.maximum(tf.reduce_max(tf.abs(a)), 1e-30))
           for a, b in zip(ref[2], out[2])]
    return logits, max(rel), statistics.median(rel)


def cpu_bench(args):
    rows, checks = [], []
    load0 = os.getloadavg()[0]
    for arch in args.archs:
        size, batch = args.size, args.batch
        rng = np.random.default_rng(1)
        x = tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32))
        y = tf.constant(rng.integers(0, CLASSES, batch))
        models = {ws: make_model(arch, ws, size) for ws in FORMULATIONS}
        flops = 3 * resnet_v2.flops_per_image(models["moments"])
        truth = float64_reference(models["moments"], arch, size, x, y)
        reference, fns = None, {}
        for ws in FORMULATIONS:
            for mode in MODES:
                t0 = time.perf_counter()
                fn = make_grad_step(models[ws], mode)
                out = fn(x, y)  # first call: tracing / XLA compilation, excluded from timing
                if reference is None:
                    reference = out
                checks.append((arch, f"{ws}/{mode}") + compare(reference, out)
                              + compare(truth, out)[1:])
                for _ in range(args.warmup):
                    float(fn(x, y)[0])
                fns[(ws, mode)] = fn
                log(f"{arch} {ws}/{mode}: first call {time.perf_counter() - t0:.1f} s")
        # Interleaved: each repeat times every variant once, so drifting load from other
        # processes hits all variants alike; the median over repeats is reported.
        steps = args.steps * (3 if arch == "tiny" else 1)  # tiny: short steps
        times = {key: [] for key in fns}
        for r in range(args.repeats):
            order = list(fns) if r % 2 == 0 else list(reversed(list(fns)))
            for key in order:
                times[key].append(time_steps(fns[key], (x, y), steps))
            log(f"{arch} repeat {r + 1} (load {os.getloadavg()[0]:.1f}): " + ", ".join(
                f"{ws}/{mode} {times[(ws, mode)][-1]:.2f}" for ws, mode in fns))
        for (ws, mode), ts in times.items():
            sec = statistics.median(ts)
            rows.append((arch, ws, mode, sec, min(ts), batch / sec, batch * flops / sec / 1e9))
    print(f"\nForward+backward (gradients of softmax cross-entropy), {args.size}x{args.size}, "
          f"batch {args.batch}, median of {args.repeats} interleaved repeats x {args.steps} "
          f"step(s) "
          f"(tiny: x3 steps); first call (tracing, XLA compile) and {args.warmup} warm-up "
          f"step(s) excluded; {os.cpu_count()} CPU threads.\n")
    print("| arch | WS | mode | s/step (median) | s/step (best) | images/s | GFLOP/s | speed-up |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for arch, ws, mode, sec, best, ips, gf in rows:
        base = next(r[3] for r in rows if r[0] == arch and r[1] == "moments" and r[2] == "eager")
        print(f"| {arch} | {ws} | {mode} | {sec:.3f} | {best:.3f} | {ips:.1f} | {gf:.1f} | "
              f"{base / sec:.2f}x |")
    print(f"\n1-minute load average: {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
          f"end ({os.cpu_count()} CPUs; above ~2 other processes shared the cores). "
          "Speed-up = median baseline (moments/eager, same arch, same run) / median.")
    print("\nNumerical identity, same weights and batch. Logits: max abs diff against "
          "moments/eager. Gradients: per tensor max |diff| / max |ref|, worst and median "
          "tensor, against moments/eager and against a float64 run (moments, eager) = the "
          "float32 rounding error itself.\n")
    print("| arch | variant | logits max abs diff | grads worst / median rel "
          "vs moments/eager | grads worst / median rel vs float64 |")
    print("|---|---|---:|---:|---:|")
    for arch, what, d, worst, med, worst64, med64 in checks:
        print(f"| {arch} | {what} | {d:.1e} | {worst:.1e} / {med:.1e} | "
              f"{worst64:.1e} / {med64:.1e} |")


def float64_reference(model, arch, size, x, y):
    """The same step in float64 (eager, moments): how far float32 itself is from exact."""
    keras.mixed_precision.set_global_policy("float64")
    try:
        m64 = resnet_v2.build(arch, num_classes=CLASSES, input_shape=(size, size, 3),
                              ws="moments")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for v64, v in zip(m64.weights, model.weights):
        v64.assign(tf.cast(v, tf.float64))
    loss, logits, grads = make_grad_step(m64, "eager")(tf.cast(x, tf.float64), y)
    return loss, tf.cast(logits, tf.float32), [tf.cast(g, tf.float32) for g in grads]


def gpu_bench(args):
    arch, size, batch = args.arch, args.size, args.batch
    if args.dry_run:
        arch, size, batch = "tiny", 64, 2
    devices = tf.config.list_physical_devices("GPU")
    print("devices:", devices or "none (dry run on CPU)")
    if not devices and not args.dry_run:
        sys.exit("--gpu needs a GPU (use --dry-run to exercise the code path on CPU)")
    rows = []
    for precision in ("float32", "mixed_bfloat16", "mixed_float16"):
        keras.mixed_precision.set_global_policy(precision)
        try:
            model = make_model(arch, resnet_v2.DEFAULT_WS, size)
            flops = 3 * resnet_v2.flops_per_image(model)
            opt = keras.optimizers.SGD(0.003, momentum=0.9)
            if precision == "mixed_float16":
                opt = keras.mixed_precision.LossScaleOptimizer(opt)
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            scaled = precision == "mixed_float16"

            @tf.function(jit_compile=not args.no_xla)
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                    scaled_loss = opt.get_scaled_loss(loss) if scaled else loss
                grads = tape.gradient(scaled_loss, model.trainable_variables)
                if scaled:
                    grads = opt.get_unscaled_gradients(grads)
                opt.apply_gradients(zip(grads, model.trainable_variables))
                return loss, grads

            rng = np.random.default_rng(1)
            x = tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32))
            y = tf.constant(rng.integers(0, CLASSES, batch))
            steps = 1 if args.dry_run else args.steps
            repeats = 1 if args.dry_run else args.repeats
            for _ in range(1 if args.dry_run else args.warmup):  # includes XLA compile
                float(train_step(x, y)[0])
            sec = statistics.median(time_steps(train_step, (x, y), steps)
                                    for _ in range(repeats))
            log(f"{precision}: {sec:.4f} s/step")
            loss = float(train_step(x, y)[0])
            tflops = batch * flops / sec / 1e12
            rows.append((precision, sec, batch / sec, tflops, tflops / args.peak_tflops, loss))
        finally:
            keras.mixed_precision.set_global_policy("float32")
    print(f"\n{arch} train step (SGD momentum), {size}x{size}, batch {batch}, "
          f"{'XLA' if not args.no_xla else 'tf.function'}; {flops / 3 / 1e9:.1f} GFLOP/image "
          f"forward, x3 per training step; peak {args.peak_tflops:g} TFLOP/s.\n")
    print("| precision | s/step | images/s | TFLOP/s | share of peak | loss | vs float32 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for precision, sec, ips, tf_, share, loss in rows:
        print(f"| {precision} | {sec:.4f} | {ips:.1f} | {tf_:.2f} | {100 * share:.1f} % | "
              f"{loss:.4f} | {rows[0][1] / sec:.2f}x |")
    if any(not np.isfinite(r[5]) for r in rows):
        sys.exit("non-finite loss")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    p.add_argument("--archs", nargs="+", default=["tiny", "R50x1"])
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--warmup", type=int, default=0, help="extra untimed steps after the "
                   "first (tracing/compiling) call")
    p.add_argument("--gpu", action="store_true", help="GPU mode: R50x1 at 480, mixed precision")
    p.add_argument("--arch", default="R50x1", help="GPU mode architecture")
    p.add_argument("--dry-run", action="store_true", help="GPU mode code path on CPU, tiny")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="GPU peak dense TFLOP/s (H100 SXM BF16/FP16: 989; PCIe: 756)")
    p.add_argument("--no-xla", action="store_true", help="GPU mode without jit_compile")
    args = p.parse_args(argv)
    if args.gpu:
        args.size = args.size or 480
        args.batch = args.batch or 32
        args.steps = args.steps or 10
        args.repeats = args.repeats or 3
        args.warmup = max(args.warmup, 2)
        gpu_bench(args)
    else:
        args.size = args.size or 128
        args.batch = args.batch or 32
        args.steps = args.steps or 1
        args.repeats = args.repeats or (2 if args.quick else 3)
        cpu_bench(args)


if __name__ == "__main__":
    main()

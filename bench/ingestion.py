"""Ingestion benchmark: images/s and peak memory of ImageExampleGen at two dataset sizes.

Each measurement runs the real executor (Beam DirectRunner, in-memory) in a fresh
child process, so its peak RSS is its own. Baseline, measured in the same run: the
same executor writing through TFX's stock WriteSplit, which reshuffles the
serialized examples (the step our executor leaves out so memory stays flat); and our
executor without its perceptual hash (the near-duplicate check's cost, A/B).

    python bench/ingestion.py [--sizes 1000 10000] [--repeats 3] [--work DIR]
Prints a Markdown table (medians over repeats) and the ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bit_tfx.components  # noqa: E402,F401  first: the environment TensorFlow reads at import


def make_dataset(root, n, side=256, classes=10):
    """n photo-like JPEGs (smooth gradients + noise, ~10-20 KB each) in class folders."""
    import numpy as np
    from PIL import Image
    if os.path.isdir(root) and sum(len(f) for _, _, f in os.walk(root)) == n:
        return
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    for i in range(n):
        c = rng.random(3)
        img = np.stack([(xx * c[0] + yy * c[1]) * 200, (yy * c[2]) * 255, (xx * yy) * 255], -1)
        img += rng.normal(0, 8, img.shape)
        folder = os.path.join(root, f"class_{i % classes}")
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            os.path.join(folder, f"{i:06d}.jpg"), quality=85)


def run_once(data, out, variant):
    """In the child: run the executor once; print JSON with timings."""
    from tfx.components.example_gen import write_split
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from bit_tfx.components.image_example_gen import component, executor, sources

    class StockWriteExecutor(executor.Executor):
        def _write_split(self, split_uri):
            return write_split.WriteSplit(split_uri, example_gen_pb2.FORMAT_TFRECORDS_GZIP)
    # TFX records the executor by import path: make it one.
    StockWriteExecutor.__qualname__ = "StockWriteExecutor"
    globals()["StockWriteExecutor"] = StockWriteExecutor

    if variant == "ours_without_perceptual_hash":
        # The same executor, its perceptual hash left out (every image keyed by its bytes, so
        # the duplicate grouping still runs): what the near-duplicate check costs, A/B.
        from bit_tfx.core import image_check

        def without_perceptual_hash(data, max_pixels):
            header = image_check.read_header(data, max_pixels)
            image_check.check_decodes(data)
            return (*header, image_check.FLAT_HASH)
        image_check.inspect_and_hash = without_perceptual_hash
    cls = {"ours": executor.Executor, "ours_without_perceptual_hash": executor.Executor,
           "stock_write_split": StockWriteExecutor}[variant]
    source = sources.resolve(data)
    examples = standard_artifacts.Examples()
    examples.uri = out
    props = {
        "input_base": source.input_base,
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="images", pattern=source.pattern)])),
        "output_config": proto_utils.proto_to_json(component.split_output_config()),
        executor.LAYOUT_KEY: source.layout,
        executor.MAX_BAD_FRACTION_KEY: 0.01,
        executor.MAX_IMAGE_PIXELS_KEY: 10**8,
    }
    context = cls.Context(beam_pipeline_args=["--direct_running_mode=in_memory",
                                              "--direct_num_workers=1"], tmp_dir=out + "-tmp")
    start = time.perf_counter()
    cls(context).Do({}, {"examples": [examples]}, props)
    wall = time.perf_counter() - start
    written = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(json.dumps({"wall_s": wall, "written_bytes": written}))


def measure(data, out, variant):
    proc = subprocess.Popen([sys.executable, __file__, "--child", data, out, variant],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"child failed for {variant} on {data}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def data_checks(data, n, ingest_wall, repeats):
    """What the data checks cost against the ingestion they serve (issue 29), in-process:
    the input fingerprint as shipped (one stat per file: span.files_fingerprint) against a
    content hash of every file (what a hashing fingerprint would read on every run, nothing-new
    runs included); and a perceptual hash (dHash on the pixels TensorFlow already decoded, the
    cheapest form; shipped: image_check.perceptual_hash, so the ingestion measured above
    includes it) per image against the ingestion's wall time. Medians of repeats."""
    import hashlib
    import tensorflow as tf
    from bit_tfx.core import image_check
    from bit_tfx.components.image_example_gen import span
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(data) for f in fs)

    def timed(fn):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def content_hashes():
        for path in files:
            with open(path, "rb") as f:
                hashlib.sha256(f.read()).digest()

    stat_s = timed(lambda: span.files_fingerprint("images", data, "*/*"))
    hash_s = timed(content_hashes)
    sample = files[:min(len(files), 500)]
    pixels = [tf.io.decode_image(open(p, "rb").read(), channels=3, expand_animations=False).numpy()
              for p in sample]
    dhash_s = timed(lambda: [image_check.perceptual_hash(p) for p in pixels]) / len(sample) * n
    print(f"\nData checks on {n} images ({repeats} runs each, medians; ingestion: {ingest_wall:.1f} s)\n")
    print("| check | s | vs ingestion wall |")
    print("|---|---:|---:|")
    print(f"| input fingerprint, one stat per file (shipped) | {stat_s:.2f} | {stat_s / ingest_wall:.3f}x |")
    print(f"| content SHA-256 of every file (not shipped in the fingerprint) | {hash_s:.2f} | "
          f"{hash_s / ingest_wall:.3f}x |")
    print(f"| perceptual dHash on the decoded pixels (shipped), extrapolated from {len(sample)} | {dhash_s:.2f} | "
          f"{dhash_s / ingest_wall:.3f}x |")
    print(f"\ncontent hash / stat fingerprint: {hash_s / stat_s:.1f}x; perceptual hash: "
          f"{dhash_s / ingest_wall:.1%} of ingestion (the budget: 10 %)")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return run_once(*sys.argv[2:5])
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs=2, default=[1000, 10000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "bit-tfx-bench"))
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        data = os.path.join(args.work, f"data-{n}")
        make_dataset(data, n)
        data_mb = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs) / 2**20
        for variant in ("ours", "stock_write_split", "ours_without_perceptual_hash"):
            results = []
            for r in range(args.repeats):
                out = os.path.join(args.work, f"out-{n}-{variant}-{r}")
                subprocess.run(["rm", "-rf", out, out + "-tmp"], check=True)
                results.append(measure(data, out, variant))
            wall = statistics.median(x["wall_s"] for x in results)
            rows.append({"images": n, "variant": variant, "data_mb": data_mb, "wall_s": wall,
                         "images_per_s": n / wall,
                         "peak_rss_mb": statistics.median(x["peak_rss_mb"] for x in results),
                         "written_mb": results[0]["written_bytes"] / 2**20})
    print(f"\nImageExampleGen ingestion, {args.repeats} runs each (medians), "
          f"{os.cpu_count()} CPU cores, DirectRunner in_memory\n")
    print("| images | write path | dataset MB | written MB | wall s | images/s | peak RSS MB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['images']} | {r['variant']} | {r['data_mb']:.1f} | {r['written_mb']:.1f} | "
              f"{r['wall_s']:.1f} | {r['images_per_s']:.0f} | {r['peak_rss_mb']:.0f} |")
    by = {(r["images"], r["variant"]): r for r in rows}
    small, large = args.sizes
    print()
    for variant in ("ours", "stock_write_split"):
        growth = by[(large, variant)]["peak_rss_mb"] / by[(small, variant)]["peak_rss_mb"]
        print(f"peak RSS {large} / {small} images, {variant}: {growth:.2f}x")
    print(f"peak RSS at {large} images, ours / stock: "
          f"{by[(large, 'ours')]['peak_rss_mb'] / by[(large, 'stock_write_split')]['peak_rss_mb']:.2f}x")
    print(f"throughput at {large} images, ours / stock: "
          f"{by[(large, 'ours')]['images_per_s'] / by[(large, 'stock_write_split')]['images_per_s']:.2f}x")
    for n in args.sizes:
        print(f"perceptual hash, A/B at {n} images: ours / ours without it: "
              f"{by[(n, 'ours')]['wall_s'] / by[(n, 'ours_without_perceptual_hash')]['wall_s']:.3f}x wall")
    data_checks(os.path.join(args.work, f"data-{large}"), large, by[(large, "ours")]["wall_s"], args.repeats)


if __name__ == "__main__":
    main()

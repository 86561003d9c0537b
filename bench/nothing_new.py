"""A run on the data the serving model was trained on (issue 23): what it costs locally.

    python bench/nothing_new.py [--work DIR] [--per-class 30]

Each command is `bit-tfx run` in a fresh process (imports included), on the tests' tiny
red-vs-blue images with their smoke settings (tests/runs.py SMOKE: random:tiny, 30 steps):
  trained        the first run into OUTPUT: ingests, trains, gates, pushes version V (baseline)
  nothing new    the same command again: ServingBaseline looks again (V serves now) and finds
                 V's data, the training branch is skipped (exit 4); the rest from the cache
  fully cached   the same command once more: every step from the cache, ServingBaseline too
  fresh          a new --output with --serving-dir OUTPUT/serving: nothing cached, so
                 ingestion, statistics, schema, validation, HyperRule and ServingBaseline run,
                 then the training branch is skipped (exit 4); what a Vertex / KFP scheduled
                 run does, where ExampleGen is uncached
Prints one line per command: wall seconds, CPU seconds of the child, exit code, verdict.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def cli(args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bit_tfx.cli.main", "run", *args],
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        verdict = json.loads(done.stdout)["verdict"]
    except (ValueError, KeyError):
        sys.exit(f"bit-tfx run {args} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, cpu, done.returncode, verdict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None)
    parser.add_argument("--per-class", type=int, default=30)
    args = parser.parse_args()
    import runs  # tests/runs.py: the images and the smoke settings
    work = args.work or tempfile.mkdtemp(prefix="bench-nothing-new-")
    data, output = os.path.join(work, "images"), os.path.join(work, "out")
    runs.colour_images(data, args.per_class, seed=1)
    smoke = runs.SMOKE
    common = ["--data", data, "--model", smoke["model_spec"], "--batch-size", str(smoke["batch_size"]),
              "--batch-policy", smoke["batch_policy"], "--min-accuracy", str(smoke["min_accuracy"]),
              "--checkpoint-every", str(smoke["checkpoint_every"]),
              "--schedule-override", json.dumps(smoke["schedule_override"])]
    rows = [("trained", cli(common + ["--output", output])),
            ("nothing new", cli(common + ["--output", output])),
            ("fully cached", cli(common + ["--output", output])),
            ("fresh", cli(common + ["--output", os.path.join(work, "fresh"),
                                    "--serving-dir", os.path.join(output, "serving")]))]
    print(f"load average {os.getloadavg()[0]:.1f}; {2 * args.per_class} images; work {work}")
    print("| run | wall s | CPU s | exit | verdict |\n|---|---:|---:|---:|---|")
    for name, (wall, cpu, code, verdict) in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {code} | {verdict} |")


if __name__ == "__main__":
    main()

"""Start-up benchmark (issue 10): how long `bit-tfx` takes before and after byte-compiling the
environment and importing heavy libraries only in the commands that need them.

    python bench/startup.py [--repeats 3] [--work DIR] [--reference]

Commands, each a fresh process (`python -c` calling bit_tfx.cli.main.main, so both variants
start the same way):
  help           bit-tfx --help
  compile        bit-tfx compile, Vertex target, offline (gs:// data never read, nothing sent):
                 the Trainer as a pipeline step and a gs:// serving folder, so no Vertex AI
                 extension component is asked for
  compile+ext    the same with the Vertex AI Training Trainer and the Endpoint Pusher (the
                 VERTEX configuration of tests/test_kubeflow.py): those extension components
                 need google-cloud-aiplatform, so after the change it is still imported here
  demo cached    bit-tfx demo re-run on a finished demo output folder: every step is reused
                 from the cache (the first, untimed run writes it into --work)
  TFX floor      `import tfx.orchestration.kubeflow.v2.kubeflow_v2_dag_runner` alone, "after"
                 only: what TFX's own Vertex/KFP compiler imports (TensorFlow, every standard
                 component with Beam, TFMA, TFDV, TFT), the least any compile can import
With --reference also `python -c "import tensorflow"` and `"import tensorflow, tfx.v1"`.

What "before" and "after" mean, exactly:
  before  No byte-code cache is found or written: PYTHONPYCACHEPREFIX points to an empty
          temporary folder (Python then looks for .pyc files only there) and
          PYTHONDONTWRITEBYTECODE=1, so every imported module is compiled from source in every
          process, as in a venv installed without --compile-bytecode on a machine or image that
          sets PYTHONDONTWRITEBYTECODE=1. For compile, compile+ext and demo the process also
          imports `tfx.v1` first, which is the import set the code had before this change
          (`from tfx import v1` in pipeline.py, runner.py, placement.py; it imports every tfx.v1
          extension, google-cloud-aiplatform included); the rest of the command then runs on
          today's code, whose own imports are a subset of that. --help imported no TensorFlow
          before either: its "before" differs only by the missing byte-code.
  after   The environment's own byte-code (`make venv` installs with --compile-bytecode) and
          today's imports.
Both variants run in the same benchmark run, interleaved per repeat, with the same arguments.
Each cell is the median over --repeats of wall seconds and of CPU seconds (user + system of the
child). On a shared machine wall time depends on the other load; CPU time much less so, which
is why both are printed, with the load average.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the deployment configuration the tests compile

LAUNCH = ("import sys, bit_tfx.components{eager}; from bit_tfx.cli.main import main; "
          "sys.exit(main(sys.argv[1:]))")
EAGER = ", tfx.v1"  # the import set before this change
FLOOR = "import bit_tfx.components, tfx.orchestration.kubeflow.v2.kubeflow_v2_dag_runner"


def deploy_flags(output, extensions):
    """bit-tfx compile flags: tests/test_kubeflow.py's VERTEX deployment (with its Vertex AI
    extension components) or the same target without them."""
    import test_kubeflow as t  # pylint: disable=import-outside-toplevel  (pure Python, no TF)
    if extensions:
        values = dict(t.VERTEX, output=output)
    else:
        values = dict(t.BASE, target="vertex", data=t.VERTEX["data"], layout=t.VERTEX["layout"],
                      num_classes=t.VERTEX["num_classes"], serving_dir="gs://bit-bucket/serving",
                      output=output)
    return ["compile"] + t._flags(values)  # pylint: disable=protected-access


def environment(variant, empty_prefix):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPYCACHEPREFIX", None)
    if variant == "before":
        env.update(PYTHONPYCACHEPREFIX=empty_prefix, PYTHONDONTWRITEBYTECODE="1")
    return env


def timed(argv, env, cwd):
    """(wall s, CPU s) of one child process; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def commands(work, reference):
    """[(name, {variant: argv})]."""
    py = sys.executable

    def cli(args, eager_before):
        return {"before": [py, "-c", LAUNCH.format(eager=EAGER if eager_before else "")] + args,
                "after": [py, "-c", LAUNCH.format(eager="")] + args}

    rows = [("bit-tfx --help", cli(["--help"], False)),
            ("bit-tfx compile (vertex)", cli(deploy_flags(os.path.join(work, "plain.json"), False), True)),
            ("bit-tfx compile (vertex + extensions)",
             cli(deploy_flags(os.path.join(work, "ext.json"), True), True)),
            ("bit-tfx demo, fully cached re-run", cli(["demo", "--output", os.path.join(work, "demo")], True)),
            ("TFX floor: import its KubeflowV2DagRunner", {"after": [py, "-c", FLOOR]})]
    if reference:
        for name, code in (("import tensorflow", "import bit_tfx.components, tensorflow"),
                           ("import tensorflow, tfx.v1", "import bit_tfx.components, tensorflow, tfx.v1")):
            rows.append((f"python -c '{name}'", {v: [py, "-c", code] for v in ("before", "after")}))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "bit-tfx-bench-startup"))
    ap.add_argument("--reference", action="store_true",
                    help="also time `import tensorflow` and `import tensorflow, tfx.v1`")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement here")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    demo = os.path.join(args.work, "demo")
    finished = os.path.join(args.work, "demo-finished")  # a cut-short first run is run again
    if not os.path.exists(finished):
        print(f"first demo run into {demo} (untimed) ...", file=sys.stderr)
        shutil.rmtree(demo, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "bit_tfx.cli.main", "demo", "--output", demo], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open(finished, "w").close()
    load_start = os.getloadavg()
    rows = commands(args.work, args.reference)
    times = {(name, v): [] for name, argvs in rows for v in argvs}
    for repeat in range(args.repeats):
        for name, argvs in rows:
            for variant in argvs:
                # A fresh empty prefix each time: nothing compiled by an earlier run is found.
                empty = tempfile.mkdtemp(prefix="pycache-empty-", dir=args.work)
                try:
                    times[(name, variant)].append(timed(argvs[variant], environment(variant, empty), ROOT))
                finally:
                    shutil.rmtree(empty)
                wall, cpu = times[(name, variant)][-1]
                print(f"[{repeat + 1}/{args.repeats}] {name}, {variant}: {wall:.1f} s wall, {cpu:.1f} s CPU",
                      file=sys.stderr)
    load_end = os.getloadavg()

    def med(name, variant, i):
        return statistics.median(t[i] for t in times[(name, variant)])

    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{args.repeats} repeats; load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end\n")
    print("| command | before wall s | after wall s | wall ratio | before CPU s | after CPU s | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, argvs in rows:
        aw, ac = med(name, "after", 0), med(name, "after", 1)
        if "before" not in argvs:
            print(f"| {name} | - | {aw:.1f} | - | - | {ac:.1f} | - |")
            continue
        bw, bc = med(name, "before", 0), med(name, "before", 1)
        print(f"| {name} | {bw:.1f} | {aw:.1f} | {bw / aw:.1f}x | {bc:.1f} | {ac:.1f} | {bc / ac:.1f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_average": [load_start, load_end],
                       "times": {f"{n} | {v}": t for (n, v), t in times.items()}}, f, indent=1)


if __name__ == "__main__":
    main()

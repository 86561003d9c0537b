"""Regenerates the shipped backbone with the pipeline itself: `make backbone`.

1. writes the FractalDB-style corpus (datasets/fractals.py, fixed seed);
2. runs `bit-tfx pretrain` on it with the flags recorded in models/backbones (FRACTAL_SMALL);
3. copies the pushed backbone's official-naming .npz and model card into
   models/backbones/<name>/ with provenance.json (command, time, metrics) and SHA256SUMS.

    python scripts/make_backbone.py [--work build/backbone]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from bit_tfx.core import keys
from bit_tfx.datasets import fractals
from bit_tfx.models import backbones
from bit_tfx.pipeline import results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/backbone", help="corpus and pipeline run go here")
    args = parser.parse_args(argv)
    b = backbones.FRACTAL_SMALL
    corpus, output = os.path.join(args.work, "corpus"), os.path.join(args.work, "run")
    started = time.time()
    if not os.path.isdir(corpus):
        fractals.write_fractals(corpus, num_classes=b.corpus_classes,
                                     per_class=b.corpus_per_class, size=b.corpus_size)
    corpus_seconds = time.time() - started
    command = [os.path.join(os.path.dirname(sys.executable), "bit-tfx")] + b.pretrain_args(corpus, output)
    print("+", " ".join(command), file=sys.stderr, flush=True)
    run = subprocess.run(command, stdout=subprocess.PIPE, check=False)
    if run.returncode:
        sys.exit(f"bit-tfx pretrain failed (exit {run.returncode}); nothing was copied")
    summary = results.RunSummary.from_json(json.loads(run.stdout))
    if not summary.blessed:
        sys.exit(f"the pre-trained backbone was not blessed: {summary.not_blessed_because}")
    pushed = summary.pushed_to
    os.makedirs(b.folder, exist_ok=True)
    shutil.copyfile(os.path.join(pushed, keys.BACKBONE_NPZ), b.weights)
    shutil.copyfile(os.path.join(pushed, keys.ASSETS_EXTRA, "model_card.md"),
                    os.path.join(b.folder, backbones.CARD_FILE))
    with open(summary.hyperparameters) as f:
        recipe = json.load(f)
    provenance = {
        "backbone": b.name, "arch": b.arch,
        "regenerate": "make backbone",
        "command": ["bit-tfx"] + b.pretrain_args("<corpus>", "<output>"),
        "corpus": {"generator": "bit_tfx.datasets.fractals.write_fractals",
                   "num_classes": b.corpus_classes, "per_class": b.corpus_per_class,
                   "size": b.corpus_size, "seed": fractals.DEFAULT_SEED},
        "recipe": recipe,
        "metrics": summary.metrics,
        "seconds": {"corpus": round(corpus_seconds), "total": round(time.time() - started)},
        "machine": f"{os.cpu_count()} CPU cores",
    }
    with open(os.path.join(b.folder, backbones.PROVENANCE_FILE), "w") as f:
        json.dump(provenance, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(b.folder, backbones.CHECKSUM_FILE), "w") as f:
        f.write(f"{backbones.sha256(b.weights)}  {backbones.WEIGHTS_FILE}\n")
    print(json.dumps({"weights": b.weights, "bytes": os.path.getsize(b.weights),
                      "metrics": summary.metrics, "seconds": provenance["seconds"]}, indent=1))


if __name__ == "__main__":
    main()

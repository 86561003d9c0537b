"""Transfer benchmark: what the shipped pre-trained backbone is worth downstream.

On the embedded downstream data (scikit-learn's digits, all 1,797 images; every 5th file by name
hash held out for evaluation: the same 364 eval images for every row), for k = 1, 2, 5, 10
examples per class and the full set, the shipped backbone against the same architecture from
random init, treated alike, in one run:

  linear probe  each backbone's pre-logits at the HyperRule's crop size (128 px), logistic
                regression on the k examples per class (the Trainer's LP-FT probe, probe.py);
                about 2 minutes;
  --fine-tune   also fine-tuned as `bit-tfx demo` fine-tunes: the BiT-HyperRule's decision for
                each k (resolution, 500 steps), the digits' task semantics (no flip, no random
                crop: datasets/digits.py), the demo's batch, batch policy and head start
                (--head-init), the same seed and batches for both arms (about 2-4 minutes per
                run on 2 cores: 10 runs).

Each accuracy carries its standard error over the eval set. Prints a Markdown table with the
gain and the ratio pre-trained / random init per row (models/transfer_study.py does the work).

    python bench/transfer.py [--fine-tune] [--ks 1 2 5 10 full] [--head-init linear_probe] [--write]
    python bench/transfer.py --data FOLDER [--fine-tune] [--preserve-orientation] [--preserve-count]
    python bench/transfer.py --backbone npz:tiny:/path/backbone.npz   (any backbone; random init
                                                                      of its architecture beside it)

--data measures the same on a class-folder dataset of your own (FOLDER/<label>/<image>; every
5th file by name hash held out), with the HyperRule's resolution for its images and the task
semantics you declare (no flip, no random crop); the default is the digits with theirs.

--write stores the result beside the backbone (models/backbones/<name>/transfer.json, which
the report shows) and the plot as docs/transfer.svg.
"""
import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bit_tfx.components  # noqa: E402,F401  first: the environment TensorFlow reads at import

from bit_tfx.core import rule  # noqa: E402
from bit_tfx.datasets import digits  # noqa: E402
from bit_tfx.models import backbones, transfer_study  # noqa: E402
from bit_tfx.models.bit import spec as bit_spec  # noqa: E402
from bit_tfx.pipeline import configs  # noqa: E402
from bit_tfx.pipeline.report.render import transfer_chart  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", nargs="+", default=["1", "2", "5", "10", transfer_study.FULL])
    parser.add_argument("--fine-tune", action="store_true", help="also fine-tune as the demo does (slow)")
    parser.add_argument("--batch-size", type=int, default=configs.DEMO_DEFAULTS["batch_size"])
    parser.add_argument("--batch-policy", default=configs.DEMO_DEFAULTS["batch_policy"])
    parser.add_argument("--head-init", default=rule.DEFAULT_HEAD_INIT, choices=rule.HEAD_INITS)
    parser.add_argument("--seed", type=int, default=rule.DEFAULT_SEED)
    parser.add_argument("--data", help="a class-folder dataset instead of the digits")
    parser.add_argument("--preserve-orientation", action="store_true", help="with --data: no flip")
    parser.add_argument("--preserve-count", action="store_true", help="with --data: no random crop")
    parser.add_argument("--eval-every", type=int, default=transfer_study.EVAL_EVERY,
                        help="hold out every Nth file (by name hash) for evaluation; 2 for a small "
                             "--data set whose k-shot rows need most of it as eval")
    parser.add_argument("--backbone", help="a model spec to measure instead of the shipped backbone "
                        "(e.g. npz:tiny:build/backbone/run/backbones/<version>/assets.extra/"
                        "backbone.npz); needs its architecture in the spec")
    parser.add_argument("--write", action="store_true",
                        help="store transfer.json beside the backbone and docs/transfer.svg")
    args = parser.parse_args(argv)
    if args.write and (args.data or args.backbone or args.eval_every != transfer_study.EVAL_EVERY):
        parser.error("--write stores the digits' measurement beside the shipped backbone; "
                     "not with --data or --backbone")
    ks = [k if k == transfer_study.FULL else int(k) for k in args.ks]
    backbone = backbones.FRACTAL_SMALL
    if args.backbone:
        try:
            parsed = bit_spec.parse(args.backbone)
        except ValueError as e:
            parser.error(str(e))
        if parsed.arch is None:
            parser.error(f"--backbone {args.backbone!r}: state the architecture "
                         "(npz:<arch>:<path>) so that random init of the same one stands beside it")
        pretrained_spec, arch, name = str(parsed), parsed.arch, args.backbone
    else:
        backbones.check(backbone)
        pretrained_spec, arch = backbone.model_spec, backbone.arch
        name = f"{backbone.name} ({backbone.arch}, models/backbones/{backbone.name})"
    started = time.perf_counter()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    random_spec = f"random:{arch}"
    semantics = dict(preserve_orientation=args.preserve_orientation, preserve_count=args.preserve_count) \
        if args.data else dict(preserve_orientation=digits.PRESERVE_ORIENTATION,
                               preserve_count=digits.PRESERVE_COUNT)
    with tempfile.TemporaryDirectory() as work:
        if args.data:
            work = args.data
        else:
            digits.write_digits(work)
        result = transfer_study.measure_probe(work, pretrained_spec, random_spec, ks=ks, log=log,
                                              eval_every=args.eval_every, seed=args.seed)
        if args.fine_tune:
            tuned = transfer_study.measure(work, pretrained_spec, random_spec, ks=ks,
                                     batch_size=args.batch_size, batch_policy=args.batch_policy,
                                     head_init=args.head_init, seed=args.seed, log=log,
                                     eval_every=args.eval_every, **semantics)
            result["rows"] = tuned["rows"] + result["rows"]
            result["fine_tune"] = {k: tuned[k] for k in ("batch_policy", "seed")}
            result["fine_tune"]["head_init"] = args.head_init
    result["pretrained"] = name
    result["data"] = args.data or "scikit-learn digits (datasets/digits.py)"
    result["seconds"] = round(time.perf_counter() - started)
    print(transfer_study.markdown(result))
    ratios = [r["pretrained"] / r["random"] for r in result["rows"] if r["random"]]
    print("\npre-trained / random init accuracy: " + ", ".join(
        f"{r['method']} k={r['k']}: {r['pretrained'] / r['random']:.2f}x"
        for r in result["rows"] if r["random"]))
    print(f"total {result['seconds']} s on {os.cpu_count()} CPU cores")
    if args.write:
        with open(os.path.join(backbone.folder, backbones.TRANSFER_FILE), "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write("\n")
        with open(os.path.join(ROOT, "docs", "transfer.svg"), "w") as f:
            f.write(str(transfer_chart(result)) + "\n")
    return ratios


if __name__ == "__main__":
    main()

"""Transfer benchmark: what the shipped pre-trained backbone is worth downstream.

On the embedded downstream data (scikit-learn's digits, all 1,797 images; every 5th file by name
hash held out for evaluation), for k = 1, 2, 5, 10 examples per class and the full set, the
shipped backbone against the same architecture from random init, treated alike:

  default      linear probe: each backbone's pre-logits at the HyperRule's crop size (128 px),
               standardised, logistic regression on the k examples per class (about 2 minutes);
  --fine-tune  the BiT-HyperRule's own decision for each k (resolution, crop and flip, 500
               steps) at --batch-size with --batch-policy, by the Trainer's optimiser step,
               the same seed and batches for both arms (about 3.5 minutes per run on 2 cores,
               so 35 minutes for the ten).

Prints a Markdown table with the gain and the ratio pre-trained / random init per row
(pipeline/transfer.py does the work).

    python bench/transfer.py [--fine-tune] [--ks 1 2 5 10 full] [--batch-size 8] [--write]

--write stores the result beside the backbone (pipeline/backbones/<name>/transfer.json, which
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

from bit_tfx.pipeline import backbones, demo_data, transfer  # noqa: E402
from bit_tfx.pipeline.report.render import transfer_chart  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", nargs="+", default=["1", "2", "5", "10", transfer.FULL])
    parser.add_argument("--fine-tune", action="store_true", help="fine-tune by the HyperRule (slow)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batch-policy", default="keep_lr")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true",
                        help="store transfer.json beside the backbone and docs/transfer.svg")
    args = parser.parse_args(argv)
    ks = [k if k == transfer.FULL else int(k) for k in args.ks]
    backbone = backbones.FRACTAL_TINY
    backbones.check(backbone)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        demo_data.write_digits(work)
        log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
        if args.fine_tune:
            result = transfer.measure(work, backbone.model_spec, f"random:{backbone.arch}", ks=ks,
                                      batch_size=args.batch_size, batch_policy=args.batch_policy,
                                      seed=args.seed, log=log)
        else:
            result = transfer.measure_probe(work, backbone.model_spec, f"random:{backbone.arch}",
                                            ks=ks, log=log)
    result["pretrained"] = f"{backbone.name} ({backbone.arch}, pipeline/backbones/{backbone.name})"
    result["seconds"] = round(time.perf_counter() - started)
    print(transfer.markdown(result))
    ratios = [r["pretrained"] / r["random"] for r in result["rows"] if r["random"]]
    print("\npre-trained / random init accuracy: " + ", ".join(
        f"k={r['k']}: {r['pretrained'] / r['random']:.2f}x" for r in result["rows"] if r["random"]))
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

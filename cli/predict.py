"""`bit-tfx predict`: classify image files with a pushed model or an ImageNet-1k BiT
or write a pushed model's embeddings (--embeddings); the work is bit_tfx.models.predict.
Exit codes: 0 all classified (embedded), 1 some files reported unreadable, 2 a bad --model,
option or missing path."""
import argparse
import json

from . import common, console

DESCRIPTION = ("Classify image files with a pushed model or an ImageNet-1k BiT, through\n"
               "the serving signature that TF Serving answers with.")


def add_parser(subparsers):
    from ..models import predict
    p = subparsers.add_parser(
        "predict", help="classify images with a pushed model or an ImageNet-1k BiT",
        description=DESCRIPTION + "\n\n" + predict.MODEL_FORMS,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="PATH_OR_SPEC",
                   help="a pushed model (SERVING_DIR or SERVING_DIR/<version>) or an ImageNet-1k "
                        "classifier (hub:HANDLE, BiT-M-R50x1-ILSVRC2012, PATH.npz); see above")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
                   help="image files, or folders searched recursively (symbolic links "
                        "followed; hidden and OS metadata files skipped; FIFOs and devices "
                        "reported, not read)")
    p.add_argument("--version", type=int, default=None,
                   help="the pushed version to use when --model is a SERVING_DIR (default: newest)")
    p.add_argument("--top-k", type=common.positive, default=5,
                   help="classes per image (default 5; at most the model's class count)")
    p.add_argument("--json", action="store_true",
                   help='JSON lines: {"file": ..., "predictions": [{"class": ..., '
                        '"probability": ...}, ...]} or {"file": ..., "error": ...} per image')
    p.add_argument("--files-per-call", type=common.positive, default=16, metavar="N",
                   help="image files sent to the model in one call (default 16); a call with "
                        "an undecodable file is retried file by file")
    # Was --batch-size, which means the training batch everywhere else (issue 30).
    common.add_renamed(p, "--batch-size", "--files-per-call")
    p.add_argument("--embeddings", metavar="PATH.npy|PATH.jsonl", default=None,
                   help="pushed models: write each file's embedding (the serving_embeddings "
                        "signature: the pre-logits vector) to PATH instead of classifying; .npy "
                        "is a float32 [files, D] array with PATH.files.txt naming its rows, "
                        ".jsonl one {\"file\", \"embedding\"} per line; prints a JSON summary")
    p.add_argument("--l2-normalize", action="store_true",
                   help="with --embeddings: the L2-normalised vectors (for cosine similarity)")
    p.add_argument("--resolution", type=common.positive, default=None, help=predict.RESOLUTION_HELP)
    p.set_defaults(func=cmd_predict)
    return p


def cmd_predict(args):
    from ..models import predict
    if args.l2_normalize and not args.embeddings:
        raise predict.PredictError("--l2-normalize applies to --embeddings only")
    console.import_tensorflow_quietly(getattr(args, "verbose", False))
    if args.embeddings:
        summary, failed = predict.embed_files(args)
        return common.Output(json.dumps(summary, ensure_ascii=False),
                             common.EXIT_RUN if failed else common.EXIT_OK)
    records, failed = predict.classify_files(args)
    if args.json:
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    else:
        text = format_table(records)
    return common.Output(text, common.EXIT_RUN if failed else common.EXIT_OK)


def format_table(records):
    """file, rank, probability, class; one row per class, the file named on its first."""
    width = max(len("file"), *(len(r["file"]) for r in records))
    rows = [f"{'file':<{width}}  {'#':>2}  {'probability':>11}  class"]
    for record in records:
        if "error" in record:
            rows.append(f"{record['file']:<{width}}  {'-':>2}  {'-':>11}  ERROR {record['error']}")
            continue
        for rank, p in enumerate(record["predictions"], start=1):
            name = record["file"] if rank == 1 else ""
            rows.append(f"{name:<{width}}  {rank:>2}  {p['probability']:>11.4f}  {p['class']}")
    return "\n".join(rows)

"""The model card: Markdown (and the same as HTML) from the facts that facts.model_facts
reads (the evaluation report, bit_tfx.pipeline.report, states the same facts), in the spirit
of Google's Model Card Toolkit (model details, intended use, data, quantitative analysis,
limitations). The toolkit itself does not install with our pins (model-card-toolkit 2.0.0
needs tensorflow-model-analysis<0.42 and jsonschema<4), so this is our own, small renderer:
the layout is a jinja2 template beside this file (model_card.md.j2), as the report's page is
(pipeline/report/template.html); the rows of its tables and the sentences are made here.

Pure: imports no TensorFlow, so it is tested fast without a pipeline run. Every value that
comes from the data (class names, paths) is escaped: a class called `<script>` stays text in
the Markdown and in its HTML rendering.
"""
import functools
import html
import os
import re

from ...core import keys
from ...core import rule
from ...core.decision import Decision

CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"
CARD_DIR = keys.ASSETS_EXTRA_DIR  # inside the SavedModel: TF Serving ignores it
FEW_EVAL_EXAMPLES = 10     # per-class metrics on fewer eval images than this are called unreliable
# TFMA's Precision/Recall binarized by class id (evaluation/gate.py) count a class as
# predicted when its score is above 0.5, one class against the rest; the confusion matrix
# takes the best class. With many classes or a weak model the two differ.
PER_CLASS_NOTE = ("Per class: one-vs-rest precision and recall at score > 0.5 (TFMA, binarized by "
                  "class id); n/a when no image scored above 0.5 for the class. The confusion "
                  "matrix counts the best-scoring class instead.")

# Emphasis, code, links and table cells; our text never starts a line (lists, headings).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def escape(value):
    """Text safe in Markdown (a table cell included) and in the HTML it renders to."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(value), quote=False))


def code(value):
    """A path or spec as a code span (Markdown escapes the HTML in it itself; a backtick,
    which would end the span, is shown as a quote)."""
    return "`" + str(value).replace("`", "'") + "`"


def number(value):
    """4 decimals; integers as such; very small values in exponent form; None as n/a."""
    if value is None:
        return "n/a"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1e-3 else f"{value:.4f}"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def split_table(data):
    """The images-per-class table of facts["data"] (None: no statistics): the splits it has,
    in keys.SPLIT_NAMES order, and the union of their classes, sorted. The report's page and
    the card both lay the table out this way."""
    splits = (data or {}).get("splits", {})
    names = [name for name in keys.SPLIT_NAMES if name in splits]
    return names, sorted({c for name in names for c in splits[name]["class_counts"]})


def threshold_text(threshold):
    """'sparse_categorical_accuracy at least 0.7500', or '... change against the model now
    serving at least 0' (plain text)."""
    what = threshold["metric"] + (" change against the model now serving" if threshold["is_diff"] else "")
    return f"{what} {'at least' if threshold['op'] == '>=' else 'at most'} {number(threshold['bound'])}"


def typed(decision):
    """facts["decision"] (the artifact's JSON object, as report.json holds it) as a Decision;
    None stays None."""
    return Decision.from_json(decision) if isinstance(decision, dict) else decision


def is_upstream(decision):
    """A decision of the upstream pre-training recipe (bit-tfx pretrain), not the HyperRule."""
    return bool(decision) and typed(decision).upstream


def decision_title(decision):
    return "BiT upstream recipe (pre-training)" if is_upstream(decision) else "BiT-HyperRule decision"


def decision_rows(decision):
    """The HyperRule decision (or the upstream recipe) as (what, value) pairs: what the report
    and the card show."""
    d = typed(decision)
    schedule = (f"warmup {d.warmup_steps}, decay x{d.decay_factor} at "
                f"{', '.join(str(b) for b in d.decay_boundaries)}, "
                f"stop at {d.total_steps} steps")
    crop = ("Inception random resized crop (area "
            f"{'-'.join(number(v) for v in d.crop_area_range or ())})" if d.upstream
            else "random crop" if d.random_crop else "no crop")
    rows = [
        ("resolution", f"resize to {d.resize_size}, {crop} to {d.crop_size}"),
        ("random flip", "yes" if d.random_flip else "no"),
        ("MixUp alpha", number(d.mixup_alpha)),
        ("schedule", schedule),
        ("learning rate", f"{d.learning_rate:g} ({d.optimizer}, momentum {d.momentum})"),
        ("batch", f"{d.batch_size} x {d.gradient_accumulation_steps} accumulation "
                  f"= {d.effective_batch_size} per step ({d.inputs['batch_policy']})"),
    ]
    if d.upstream:
        rows.insert(3, ("epochs", f"{d.epochs} (learning rate x{d.decay_factor} "
                                  f"at epochs {', '.join(str(e) for e in d.decay_epochs)}; "
                                  f"{d.inputs['schedule']})"))
        rows.append(("weight decay", number(d.weight_decay)))
        for name, change in sorted((d.overrides or {}).items()):
            rows.append(("override", f"{name} {change['value']} (the recipe's: {change['recipe']})"))
    if d.class_weights:
        w = d.class_weights
        rows.append(("class weights", f"inverse frequency (not the HyperRule's): "
                                      f"{number(min(w.values()))} to {number(max(w.values()))} "
                                      f"over {len(w)} classes"))
    if d.inputs.get("k_shot"):
        rows.append(("k-shot", f"{d.inputs['k_shot']} examples per class"))
    if not d.upstream:
        rows.append(("head start", HEAD_INIT_TEXT.get(d.head_init, d.head_init)))
    rows.append(("seed", str(d.seed)))
    if d.schedule_overridden:
        own = d.rule_schedule
        rows.append(("override", f"schedule overridden (smoke run); the rule's own: warmup "
                                 f"{own['warmup_steps']}, total {own['total_steps']}, "
                                 f"learning rate {own['learning_rate']:g}"))
    return rows


HEAD_INIT_TEXT = {
    rule.HEAD_ZERO: "zero kernel and bias (the BiT-HyperRule's)",
    rule.HEAD_LINEAR_PROBE: "a linear probe fitted on the backbone's features, then every layer "
                    "fine-tuned (LP-FT; not the BiT-HyperRule's, which starts at zero)",
}


def trained_text(model, decision):
    """What training changed, from the Trainer's configuration (facts' model): every layer
    (the BiT-HyperRule fine-tunes the whole network), the head only (--linear-probe), or the
    blocks after --freeze-until; with the mixed precision used. None when not known."""
    if not model or model.get("linear_probe") is None:
        return None
    if model["linear_probe"]:
        text = "the head only: a linear probe, the backbone frozen (not the BiT-HyperRule's)"
    elif model.get("freeze_until"):
        blocks = keys.BACKBONE_BLOCKS
        last = blocks.index(model["freeze_until"])
        text = (f"{', '.join(blocks[last + 1:]) + ' and ' if last + 1 < len(blocks) else ''}the "
                f"head; {blocks[0] if last else ''}{' to ' if last else ''}{blocks[last]} frozen "
                "(not the BiT-HyperRule's)")
    else:
        text = "every layer (pre-training)" if is_upstream(decision) else \
            "every layer (full fine-tuning, as the BiT-HyperRule does)"
    precision = model.get("mixed_precision")
    return text + (f"; {precision} mixed precision" if precision and precision != "none" else "")


def tensor_shape(shape):
    """[-1, 3] -> 'None, 3' (a signature's tensor shape, unknown dimensions as None)."""
    return ", ".join("None" if d < 0 else str(d) for d in shape)


def _tensors(tensors):
    return ", ".join(f"`{name}` {t['dtype']} [{tensor_shape(t['shape'])}]" for name, t in tensors.items())


def serving_lines(serving):
    """What the version serves: each signature (inputs -> outputs), the warm-up file and the
    TFLite files, from facts.serving_artifacts; a promised file that is missing says so."""
    if not serving:
        return ["Not available: no trained model."]
    out = ["Signatures (TF Serving, Vertex AI):", ""]
    out += _table(["signature", "inputs", "outputs"],
                  [[code(name), _tensors(sig["inputs"]), _tensors(sig["outputs"])]
                   for name, sig in serving["signatures"].items()])
    out.append("")
    warmup = serving["warmup_requests"]
    out.append(f"- TF Serving warm-up requests: {code(warmup)}" if warmup else
               "- TF Serving warm-up requests: MISSING")
    tflite = serving["tflite"]
    if not tflite:
        out.append("- TFLite: MISSING")
        return out
    shape = "x".join(str(d) for d in tflite["input"]["shape"])
    out.append(f"- TFLite input: `{tflite['input']['name']}` {tflite['input']['dtype']} {shape}, "
               f"values in [0, 1]; output: probabilities in the order of {code(tflite['labels'])}")
    for f in tflite["files"]:
        out.append(f"- TFLite {code(f['path'])}: {f['bytes'] / 1e6:.1f} MB, probabilities within "
                   f"{number(f['probability_atol'])} of the SavedModel's"
                   + ("" if f["present"] else " (MISSING)"))
    return out


def limitations(facts):
    """Plain-text sentences derived from the facts; the card escapes them, the report's
    template autoescapes them."""
    notes = []
    model = facts.get("model") or {}
    spec = model.get("model_spec") or ""
    if spec.startswith("random:") and not is_upstream(facts.get("decision")):
        notes.append(f"SMOKE MODEL: the backbone {spec} is randomly initialised (no pre-training). "
                     "This is not transfer learning and not a model to serve.")
    classes = model.get("classes") or []
    if classes:
        notes.append(f"It answers with one of its {len(classes)} classes only: an image of "
                     "anything else still gets one of these labels; the score is not a "
                     "calibrated 'none of these'.")
    metrics = facts.get("metrics")
    if metrics:
        few = [c["name"] for c in metrics["per_class"] if (c["examples"] or 0) < FEW_EVAL_EXAMPLES]
        if few:
            notes.append(f"Per-class metrics rest on fewer than {FEW_EVAL_EXAMPLES} eval images "
                         f"for: {', '.join(few)}; treat them as indications.")
        never = [c["name"] for c in metrics["per_class"] if c["precision"] is None]
        if never:
            notes.append("No eval image scored above 0.5 for (precision undefined): "
                         + ", ".join(never) + ".")
    decision = typed(facts.get("decision"))
    if decision:
        notes.append(f"Images are resized to {decision.resize_size}x{decision.resize_size} "
                     "without keeping the aspect ratio (evaluation and serving: straight to "
                     f"{decision.crop_size}x{decision.crop_size}); EXIF orientation is not applied.")
        if decision.schedule_overridden:
            notes.append("The training schedule was overridden (a smoke run), not the BiT-HyperRule's.")
        if decision.overrides:
            notes.append("Pre-trained with recipe values overridden (listed under the recipe): "
                         "not the paper's upstream schedule.")
    notes.append("The metrics describe the eval split of the same source only; images unlike the "
                 "training data (other cameras, lighting, framing, populations) may do worse.")
    return notes


TEMPLATE = "model_card.md.j2"  # beside this file; setup.py installs it as package data


@functools.lru_cache(maxsize=1)
def _template():
    import jinja2  # pylint: disable=import-outside-toplevel
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
        autoescape=False,  # Markdown, not HTML: values go through `md` (escape) or `code`
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters.update(md=escape, code=code, number=number)
    env.globals["table"] = lambda header, rows: "\n".join(_table(header, rows))
    return env.get_template(TEMPLATE)


def render_markdown(facts):
    """The card for one trained model (model_card.md.j2). `facts` is facts.model_facts(...);
    the rows of its tables are made here, the layout is the template's."""
    model, data, decision = facts.get("model"), facts.get("data"), facts.get("decision")
    metrics, verdict = facts.get("metrics"), facts.get("verdict")
    split_names, class_names = split_table(data)
    return _template().render(
        model=model, upstream=is_upstream(decision), classes=(model or {}).get("classes") or [],
        trained=trained_text(model, decision), backbone_dir=keys.BACKBONE_DIR,
        backbone_npz=keys.BACKBONE_NPZ, version=facts.get("bit_tfx_version"),
        serving=serving_lines(facts.get("serving")), data=data, split_names=split_names,
        class_rows=[[escape(c)] + [data["splits"][s]["class_counts"].get(c, 0) for s in split_names]
                    for c in class_names],
        decision=decision, decision_title=decision_title(decision),
        decision_rows=[[w, escape(v)] for w, v in decision_rows(decision)] if decision else [],
        metrics=metrics, per_class_note=PER_CLASS_NOTE,
        metric_rows=[[escape(k), number(v)] for k, v in sorted(metrics["overall"].items())]
        if metrics else [],
        per_class_rows=[[escape(c["name"]), number(c["examples"]), number(c["precision"]),
                         number(c["recall"])] for c in metrics["per_class"]] if metrics else [],
        verdict=verdict,
        threshold_rows=[[escape(threshold_text(t)), number(t["value"]),
                         "passed" if t["passed"] else "FAILED"] for t in verdict["thresholds"]]
        if verdict else [],
        limitations=limitations(facts))


def render_html(markdown_text):
    """The card as a standalone HTML page (the Markdown is already escaped)."""
    import markdown  # pure Python; installed with TensorBoard
    body = markdown.markdown(markdown_text, extensions=["tables"])
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Model card</title>"
            "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
            "</style></head><body>\n" + body + "\n</body></html>\n")

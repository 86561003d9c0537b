"""The evaluation report of a run: one self-contained HTML page and its data as JSON.

`bit-tfx report RUN_DIR` (and the end of `bit-tfx run` / `demo`) writes RUN_DIR/report/:
index.html (inline CSS, SVG charts drawn here, thumbnails as data: URIs; no script, no
network), report.json (the collected data) and model_card.md/.html (the card the ModelCardGen
component put into the model's assets.extra/).

Two halves:
- collection reads the newest run of the pipeline (its `pipeline_run` context in ML Metadata)
  and its artifacts with the libraries' own loaders (TFDV statistics, TFMA results, TensorBoard
  event files, the Trainer's SavedModel) into a plain dict. `model_facts` is the part the model
  card states too; components/model_card calls the same function.
- `render(data)` is a pure function: dict -> HTML string, autoescaped (a class called
  `<script>` is text).

TensorFlow, TFX and TFMA are imported inside the collecting functions: the CLI registers the
command without loading them, and rendering is tested without them.
"""
import base64
import gc
import datetime
import io
import json
import os

import jinja2
import markupsafe

from bit_tfx.components import keys
from bit_tfx.components.errors import ConfigError
from bit_tfx.components.model_card import card, facts
from bit_tfx.pipeline import configs

REPORT_DIR = "report"
REPORT_HTML = "index.html"
REPORT_JSON = "report.json"
DEFAULT_MAX_EXAMPLES = 256   # eval examples the confused-examples scan runs through the model
CONFUSED_SHOWN = 16          # wrong predictions shown, most confident first
THUMBNAIL_PIXELS = 96
SCAN_BATCH = 32
CURVES = ("loss", "accuracy", "learning_rate")  # the Trainer's tf.summary scalars


class ReportError(ConfigError):
    """A folder or run that cannot be reported on; the message names the path and the fix."""


# --- collection: the rest of the report -----------------------------------------------------

def _time(ms=None):
    """An MLMD time (milliseconds since the epoch), or now, as readable UTC."""
    moment = (datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) if ms is not None
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Run:
    """The newest run of a pipeline in an MLMD store: its executions by node id."""

    def __init__(self, store, pipeline_name, metadata_path):
        from ml_metadata.proto import metadata_store_pb2
        self.store = store
        pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
        if pipeline is None:
            known = sorted(c.name for c in store.get_contexts_by_type("pipeline"))
            raise ReportError(f"{metadata_path} has no pipeline named {pipeline_name!r} (it has "
                              f"{known or 'none'}); pass --pipeline-name")
        run_type = store.get_context_type("pipeline_run").id
        runs = [c for c in store.get_children_contexts_by_context(pipeline.id) if c.type_id == run_type]
        if not runs:
            raise ReportError(f"{metadata_path} records no run of pipeline {pipeline_name!r}")
        self.context = max(runs, key=lambda c: c.id)
        in_run = {e.id for e in store.get_executions_by_context(self.context.id)}
        prefix = pipeline_name + "."
        self.executions = {}
        for node in store.get_contexts_by_type("node"):
            if node.name.startswith(prefix):
                mine = [e for e in store.get_executions_by_context(node.id) if e.id in in_run]
                if mine:
                    self.executions[node.name[len(prefix):]] = max(mine, key=lambda e: e.id)
        self._state_name = metadata_store_pb2.Execution.State.Name
        self._done = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)

    def output(self, node, key):
        """The node's output artifact under `key` in this run as a TFX Artifact, or None."""
        from bit_tfx.pipeline import metadata
        from tfx.types import artifact_utils
        execution = self.executions.get(node)
        artifacts = metadata.output_artifacts(self.store, execution, key) if execution is not None else []
        if not artifacts:
            return None
        [artifact_type] = self.store.get_artifact_types_by_id([artifacts[0].type_id])
        return artifact_utils.deserialize_artifact(artifact_type, artifacts[0])

    def why_missing(self, node):
        execution = self.executions.get(node)
        if execution is None:
            return (f"the newest run has no {node} execution (it stopped earlier, ran only part "
                    "of the pipeline such as `bit-tfx hyperrule`, or predates the component)")
        if execution.last_known_state not in self._done:
            return f"{node} (execution {execution.id}) ended {self._state_name(execution.last_known_state)}"
        return f"{node} (execution {execution.id}) recorded no such output"

    def lineage(self):
        executions = [{"node": node, "id": e.id, "state": self._state_name(e.last_known_state),
                       "started": _time(e.create_time_since_epoch),
                       "seconds": round((e.last_update_time_since_epoch
                                         - e.create_time_since_epoch) / 1000, 1)}
                      for node, e in sorted(self.executions.items(), key=lambda kv: kv[1].id)]
        return {"run_id": self.context.name, "started": _time(self.context.create_time_since_epoch),
                "executions": executions}

    def custom_property(self, node, name):
        execution = self.executions.get(node)
        if execution is None or name not in execution.custom_properties:
            return None
        return execution.custom_properties[name].string_value


def _pushed_versions(store, pipeline_name, run):
    """Every version the pipeline's Pusher pushed, newest first (PushedModel properties)."""
    from bit_tfx.pipeline import metadata
    node = store.get_context_by_type_and_name("node", f"{pipeline_name}.Pusher")
    pushes = []
    for execution in store.get_executions_by_context(node.id) if node else []:
        for artifact in metadata.output_artifacts(store, execution, "pushed_model"):
            props = artifact.custom_properties
            if props["pushed"].int_value:
                pushes.append({"version": props["pushed_version"].string_value,
                               "destination": props["pushed_destination"].string_value,
                               "execution": execution.id, "time": _time(execution.create_time_since_epoch),
                               "this_run": run.executions.get("Pusher") is not None
                               and run.executions["Pusher"].id == execution.id})
    return sorted(pushes, key=lambda p: -p["execution"])


def _training_curves(model_run_uri):
    """loss, accuracy and learning_rate over steps from the Trainer's TensorBoard event
    files (a resumed Trainer adds a file; a later value for a step wins)."""
    import tensorflow as tf
    curves = {tag: {} for tag in CURVES}
    for path in sorted(tf.io.gfile.glob(os.path.join(model_run_uri, "train", "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag in curves:
                    curves[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
    return {tag: [[step, v] for step, v in sorted(points.items())] for tag, points in curves.items()}


def _thumbnail(encoded):
    """A small PNG data: URI of an encoded image, or None when PIL cannot read it (TF decoded
    it for training; PIL is only the preview)."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(encoded)) as image:
            image = image.convert("RGB")
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            out = io.BytesIO()
            image.save(out, "PNG")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _most_confused(examples_uri, model_uri, classes, max_examples):
    """Runs the Trainer model's `serving_examples` signature over the first `max_examples`
    eval-split examples; the wrong predictions, most confident first."""
    import numpy as np
    import tensorflow as tf
    from tfx.utils import path_utils
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{keys.EVAL_SPLIT}", "*")))
    records = [r.numpy() for r in
               tf.data.TFRecordDataset(files, compression_type="GZIP").take(max_examples)]
    predict = tf.saved_model.load(path_utils.serving_model_path(model_uri)).signatures["serving_examples"]
    wrong = []
    for start in range(0, len(records), SCAN_BATCH):
        batch = records[start:start + SCAN_BATCH]
        probabilities = predict(examples=tf.constant(batch))["probabilities"].numpy()
        for record, p in zip(batch, probabilities):
            feature = tf.train.Example.FromString(record).features.feature
            true = feature[keys.LABEL_TEXT].bytes_list.value[0].decode("utf-8")
            best = int(np.argmax(p))
            if classes[best] != true:
                wrong.append({"file": feature[keys.FILENAME].bytes_list.value[0].decode("utf-8"),
                              "true": true, "predicted": classes[best], "confidence": float(p[best]),
                              "true_probability": float(p[classes.index(true)]) if true in classes else None,
                              "encoded": feature[keys.IMAGE_ENCODED].bytes_list.value[0]})
    # Free the loaded model's functions now: collected at interpreter exit instead, TensorFlow
    # prints "Exception ignored in AtomicFunction.__del__" after the run's result.
    del predict
    gc.collect()
    wrong.sort(key=lambda w: -w["confidence"])
    shown = [dict(w, thumbnail=_thumbnail(w.pop("encoded"))) for w in wrong[:CONFUSED_SHOWN]]
    return {"max_examples": max_examples, "scanned": len(records), "wrong": len(wrong), "shown": shown}


def collect(metadata_path, pipeline_name, max_examples=DEFAULT_MAX_EXAMPLES, run_dir=None):
    """Everything the report shows about the newest run, as a plain (JSON-ready) dict.
    A part the run did not produce is None, and notes[part] says why."""
    from bit_tfx.pipeline import metadata
    from tfx.utils import path_utils
    store = metadata.open_store(metadata_path)
    run = _Run(store, pipeline_name, metadata_path)
    gen = next((n for n in ("ImageExampleGen", "ImportExampleGen") if n in run.executions), "ImageExampleGen")
    artifacts = {"examples": run.output(gen, "examples"),
                 "statistics": run.output("StatisticsGen", "statistics"),
                 "hyperparameters": run.output("HyperRule", "hyperparameters"),
                 "model": run.output("Trainer", "model"),
                 "evaluation": run.output("Evaluator", "evaluation"),
                 "blessing": run.output("Evaluator", "blessing")}
    trainer_config = run.custom_property("Trainer", "custom_config")
    trainer_config = json.loads(trainer_config) if trainer_config else None
    data = facts.model_facts(**artifacts, input_base=run.custom_property(gen, "input_base"),
                       model_spec=trainer_config["model_spec"] if trainer_config else None)
    model_run = run.output("Trainer", "model_run")
    model, examples = artifacts["model"], artifacts["examples"]
    card_model = run.output("ModelCardGen", "model")
    data.update({
        "pipeline_name": pipeline_name,
        "run_dir": os.path.abspath(run_dir) if run_dir else os.path.dirname(os.path.abspath(metadata_path)),
        "generated": _time(),
        "training": _training_curves(model_run.uri) if model_run is not None else None,
        "confused": _most_confused(examples.uri, model.uri, data["model"]["classes"], max_examples)
        if model is not None and examples is not None and max_examples > 0 else None,
        "model_card": os.path.join(path_utils.serving_model_dir(card_model.uri), card.CARD_DIR,
                                   card.CARD_MARKDOWN) if card_model is not None else None,
        "lineage": dict(run.lineage(), trainer_config=trainer_config,
                        hyperparameters=artifacts["hyperparameters"].uri
                        if artifacts["hyperparameters"] is not None else None,
                        pushed=_pushed_versions(store, pipeline_name, run),
                        pusher_ran="Pusher" in run.executions),
    })
    why = {"data": run.why_missing("StatisticsGen"), "decision": run.why_missing("HyperRule"),
           "model": run.why_missing("Trainer"), "training": run.why_missing("Trainer"),
           "metrics": run.why_missing("Evaluator"), "verdict": run.why_missing("Evaluator"),
           "confused": "--max-examples 0: the scan was skipped" if max_examples <= 0 and model is not None
           else run.why_missing("Trainer"),
           "model_card": run.why_missing("ModelCardGen")}
    data["notes"] = {part: reason for part, reason in why.items() if data[part] is None}
    return data


# --- rendering: dict -> HTML, a pure function -------------------------------------------------

def _svg_text(x, y, text, anchor="start", extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>'
            f"{markupsafe.escape(text)}</text>")


def _line_chart(title, points, colour):
    """An SVG line chart of [[step, value], ...] with its range on the axes."""
    width, height, left, right, top, bottom = 360, 210, 56, 12, 26, 30
    if not points:
        return markupsafe.Markup(f'<p class="na">No {markupsafe.escape(title)} values were logged.</p>')
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y0 == y1:
        y0, y1 = y0 - (abs(y0) or 1) * 0.5, y1 + (abs(y1) or 1) * 0.5

    def sx(x):
        return left + (x - x0) / ((x1 - x0) or 1) * (width - left - right)

    def sy(y):
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{markupsafe.escape(title)}">',
             _svg_text(left, 16, title, extra=' class="title"'),
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
             'class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" class="axis"/>',
             _svg_text(left - 4, sy(y1) + 4, card.number(y1), "end"),
             _svg_text(left - 4, sy(y0) + 4, card.number(y0), "end"),
             _svg_text(sx(x0), height - bottom + 16, card.number(x0), "middle"),
             _svg_text(sx(x1), height - bottom + 16, card.number(x1), "middle"),
             _svg_text((left + width - right) / 2, height - 4, "step", "middle", ' class="muted"'),
             f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>']
    parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>' for x, y in points]
    return markupsafe.Markup("\n".join(parts) + "</svg>")


def _heatmap(labels, matrix):
    """The confusion matrix as an SVG heatmap: rows true class, columns predicted; colour is
    the share of the true class's images, the number the count."""
    n = len(labels)
    cell = max(4, min(44, 640 // max(n, 1)))
    show_labels, show_counts = cell >= 10, cell >= 22
    shown = [label if len(label) <= 22 else label[:21] + "…" for label in labels]
    # label room: on the left for rows; above (and past the right edge) for the slanted columns
    room = 8 + 7 * max((len(label) for label in shown), default=1) if show_labels else 10
    width, height = room + n * cell + (room // 2 if show_labels else 0) + 10, room + n * cell + 10
    parts = [f'<svg class="heatmap" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             'role="img" aria-label="confusion matrix">']
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            light = 97 - 62 * share
            x, y = room + j * cell, room + i * cell
            tip = markupsafe.escape(f"true {labels[i]}, predicted {labels[j]}: {count}")
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                         f'fill="hsl(212,70%,{light:.0f}%)" stroke="#fff"><title>{tip}</title></rect>')
            if show_counts and count:
                parts.append(_svg_text(x + cell / 2, y + cell / 2 + 4, str(count), "middle",
                                       f' style="fill:{"#fff" if share > 0.5 else "#123"}"'))
    if show_labels:
        for i, label in enumerate(shown):
            parts.append(_svg_text(room - 4, room + i * cell + cell / 2 + 4, label, "end"))
            cx, cy = room + i * cell + cell / 2, room - 4
            parts.append(_svg_text(cx, cy, label, "start", f' transform="rotate(-60 {cx:.1f} {cy:.1f})"'))
    return markupsafe.Markup("\n".join(parts) + "</svg>")


_TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ d.pipeline_name }} report: {{ verdict_word }}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b2430;margin:0;background:#f4f6f8}
main{max-width:1200px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px}
section{background:#fff;border:1px solid #dde3e9;border-radius:8px;padding:14px 18px;margin:14px 0}
table{border-collapse:collapse;margin:4px 0}td,th{border-bottom:1px solid #e6eaee;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#445}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:3px 12px;border-radius:14px;font-weight:700;color:#fff}
.blessed{background:#1f8a4c}.refused{background:#c62828}.unknown{background:#78828c}
.pass{color:#1f8a4c;font-weight:600}.fail{color:#c62828;font-weight:600}
.na{color:#8a5a00;background:#fff7e0;border:1px solid #f0dca0;border-radius:6px;padding:6px 10px}
.muted{color:#6b7785;fill:#6b7785}.charts{display:flex;flex-wrap:wrap;gap:12px}
svg text{font:11px system-ui,sans-serif;fill:#223}svg .title{font-weight:600;font-size:12px}
svg .axis{stroke:#99a3ad}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
figure{margin:0;border:1px solid #e0e5ea;border-radius:6px;padding:6px;background:#fafbfc}
figure img{display:block;width:96px;height:96px;object-fit:contain;image-rendering:pixelated;background:#eee}
figcaption{font-size:12px}figcaption code{word-break:break-all}code,pre{font:12px ui-monospace,Menlo,monospace}
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:360px}.cols{display:flex;flex-wrap:wrap;gap:28px}
</style></head><body><main>
<h1>{{ d.pipeline_name }}: evaluation report</h1>
<p><span class="badge {{ verdict_class }}" id="verdict">{{ verdict_word }}</span>
{% if pushed_here %} pushed version <b>{{ pushed_here.version }}</b> to <code>{{ pushed_here.destination }}</code>
{% elif d.verdict and d.verdict.blessed %} blessed{% if d.lineage.pusher_ran %}, not pushed{% endif %}
{% elif d.verdict %} not pushed{% endif %}</p>
<p class="muted">Run <code>{{ d.lineage.run_id }}</code> started {{ d.lineage.started }} &middot; folder <code>{{ d.run_dir }}</code> &middot; report written {{ d.generated }}</p>

{% macro na(part) %}<p class="na">Not available: {{ d.notes.get(part, "this part of the run is missing") }}.</p>{% endmacro %}

<section id="gate"><h2>Gate verdict</h2>
{% if d.verdict %}
<table><tr><th>threshold</th><th>value</th><th>result</th></tr>
{% for t in d.verdict.thresholds %}<tr><td>{{ threshold_text(t) }}</td><td class="num">{{ fmt(t.value) }}</td>
<td class="{{ 'pass' if t.passed else 'fail' }}">{{ 'passed' if t.passed else 'FAILED' }}</td></tr>{% endfor %}
</table>
<p>{% if d.verdict.baseline %}Compared with the model serving at evaluation time, <code>{{ d.verdict.baseline.served_from or d.verdict.baseline.uri }}</code> (its copy: artifact {{ d.verdict.baseline.id }}, <code>{{ d.verdict.baseline.uri }}</code>).
{% else %}No model was serving: only the absolute thresholds applied.{% endif %}</p>
{% if d.verdict.failures %}<ul>{% for s in d.verdict.failures %}<li class="fail">{{ s }}</li>{% endfor %}</ul>{% endif %}
{% else %}{{ na("verdict") }}{% endif %}
</section>

<section id="limitations"><h2>Limitations</h2><ul>
{% for n in limitations %}<li>{{ n }}</li>{% endfor %}</ul></section>

<section id="metrics"><h2>Metrics (eval split)</h2>
{% if d.metrics %}
<div class="cols"><div><h3>Overall</h3><table>
{% for name, value in d.metrics.overall|dictsort %}<tr><td>{{ name }}</td><td class="num">{{ fmt(value) }}</td></tr>{% endfor %}
</table>
<h3>Per class</h3><table><tr><th>class</th><th>eval images</th><th>precision</th><th>recall</th></tr>
{% for c in d.metrics.per_class %}<tr><td>{{ c.name }}</td><td class="num">{{ fmt(c.examples) }}</td>
<td class="num">{{ fmt(c.precision) }}</td><td class="num">{{ fmt(c.recall) }}</td></tr>{% endfor %}
</table><p class="muted" style="max-width:34em">{{ per_class_note }}</p></div>
<div><h3>Confusion matrix</h3><p class="muted">Rows: true class; columns: predicted. Colour: share of the row.</p>
{{ heatmap(d.metrics.confusion.labels, d.metrics.confusion.matrix) }}</div></div>
{% else %}{{ na("metrics") }}{% endif %}
</section>

<section id="confused"><h2>Most confused examples</h2>
{% if d.confused %}
<p>Scanned the first <b>{{ d.confused.scanned }}</b> eval examples (<code>--max-examples {{ d.confused.max_examples }}</code>)
with the Trainer model's <code>serving_examples</code> signature: {{ d.confused.wrong }} wrong.
{% if d.confused.shown %}The {{ d.confused.shown|length }} most confident mistakes:{% endif %}</p>
<div class="grid">{% for w in d.confused.shown %}<figure>
{% if w.thumbnail %}<img src="{{ w.thumbnail }}" alt="{{ w.file }}">{% else %}<p class="muted">no preview</p>{% endif %}
<figcaption><b>{{ w.predicted }}</b> ({{ fmt(w.confidence) }}) but <b>{{ w.true }}</b>{% if w.true_probability is not none %} ({{ fmt(w.true_probability) }}){% endif %}<br><code>{{ w.file }}</code></figcaption>
</figure>{% endfor %}</div>
{% else %}{{ na("confused") }}{% endif %}
</section>

<section id="training"><h2>Training</h2>
{% if d.training %}<div class="charts">
{{ line_chart("loss", d.training.loss, "#c0392b") }}{{ line_chart("accuracy (training batches)", d.training.accuracy, "#1f77b4") }}{{ line_chart("learning rate", d.training.learning_rate, "#6a3d9a") }}
</div>{% else %}{{ na("training") }}{% endif %}
</section>

<section id="hyperrule"><h2>BiT-HyperRule decision</h2>
{% if d.decision %}<table>{% for what, value in decision_rows(d.decision) %}<tr><th>{{ what }}</th><td>{{ value }}</td></tr>{% endfor %}</table>
{% else %}{{ na("decision") }}{% endif %}
<h3>The statistics it came from</h3>
{% if d.data %}
<table><tr><th>split</th><th>images</th><th>median height x width</th><th>height min-max</th><th>width min-max</th><th>classes</th></tr>
{% for name in split_names %}{% set s = d.data.splits[name] %}<tr><td>{{ name }}</td><td class="num">{{ s.num_examples }}</td>
<td>{{ fmt(s.median_height) }} x {{ fmt(s.median_width) }}</td><td>{{ fmt(s.height.min) }}-{{ fmt(s.height.max) }}</td>
<td>{{ fmt(s.width.min) }}-{{ fmt(s.width.max) }}</td><td class="num">{{ s.num_classes }}</td></tr>{% endfor %}</table>
<h3>Images per class</h3><table><tr><th>class</th>{% for name in split_names %}<th>{{ name }}</th>{% endfor %}</tr>
{% for c in class_rows %}<tr><td>{{ c }}</td>{% for name in split_names %}<td class="num">{{ d.data.splits[name].class_counts.get(c, 0) }}</td>{% endfor %}</tr>{% endfor %}</table>
{% else %}{{ na("data") }}{% endif %}
{% if d.decision %}<details><summary>hyperparameters.json</summary><pre>{{ decision_json }}</pre></details>{% endif %}
</section>

<section id="lineage"><h2>Lineage</h2>
<table>
<tr><th>input</th><td>{% if d.data %}<code>{{ d.data.input_base or "unknown" }}</code>, span {{ fmt(d.data.span) }}, examples <code>{{ d.data.examples }}</code>{% else %}n/a{% endif %}</td></tr>
<tr><th>model spec</th><td>{% if d.lineage.trainer_config %}<code>{{ d.lineage.trainer_config.model_spec }}</code> (Trainer custom_config: {{ d.lineage.trainer_config|tojson }}){% else %}n/a{% endif %}</td></tr>
<tr><th>trained model</th><td>{% if d.model %}<code>{{ d.model.uri }}</code>{% else %}n/a{% endif %}</td></tr>
<tr><th>HyperParameters</th><td>{% if d.lineage.hyperparameters %}<code>{{ d.lineage.hyperparameters }}</code>{% else %}n/a{% endif %}</td></tr>
<tr><th>model card</th><td>{% if d.model_card %}<a href="model_card.md">model_card.md</a> (<a href="model_card.html">HTML</a>), shipped as <code>{{ d.model_card }}</code>{% else %}{{ d.notes.model_card }}{% endif %}</td></tr>
</table>
<h3>Versions pushed by this pipeline</h3>
{% if d.lineage.pushed %}<table><tr><th>version</th><th>destination</th><th>Pusher execution</th><th>time</th></tr>
{% for p in d.lineage.pushed %}<tr><td>{{ p.version }}{% if p.this_run %} (this run){% endif %}</td><td><code>{{ p.destination }}</code></td><td class="num">{{ p.execution }}</td><td>{{ p.time }}</td></tr>{% endfor %}</table>
{% else %}<p class="muted">None yet.</p>{% endif %}
<h3>Executions of this run (ML Metadata)</h3>
<table><tr><th>node</th><th>execution</th><th>state</th><th>started</th><th>seconds</th></tr>
{% for e in d.lineage.executions %}<tr><td>{{ e.node }}</td><td class="num">{{ e.id }}</td><td>{{ e.state }}</td><td>{{ e.started }}</td><td class="num">{{ e.seconds }}</td></tr>{% endfor %}</table>
</section>
</main></body></html>
"""

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True)


def render(data):
    """The report page for collect()'s dict (or report.json loaded back)."""
    verdict = data["verdict"]
    pushed_here = next((p for p in data["lineage"]["pushed"] if p["this_run"]), None)
    splits = (data["data"] or {}).get("splits", {})
    return _ENVIRONMENT.from_string(_TEMPLATE).render(
        d=data, fmt=card.number, line_chart=_line_chart, heatmap=_heatmap,
        threshold_text=card.threshold_text,
        decision_rows=card.decision_rows, pushed_here=pushed_here, per_class_note=card.PER_CLASS_NOTE,
        limitations=card.limitations(data),
        verdict_word="not evaluated" if verdict is None else "BLESSED" if verdict["blessed"] else "NOT BLESSED",
        verdict_class="unknown" if verdict is None else "blessed" if verdict["blessed"] else "refused",
        class_rows=sorted({c for s in splits.values() for c in s["class_counts"]}),
        split_names=[name for name in keys.SPLIT_NAMES if name in splits],
        decision_json=json.dumps(data["decision"], indent=1, sort_keys=True) if data["decision"] else "")


# --- writing and the command ----------------------------------------------------------------

def write_report(config_or_run_dir, output_dir=None, max_examples=DEFAULT_MAX_EXAMPLES,
                 pipeline_name=configs.PIPELINE_NAME):
    """Writes index.html, report.json and the model card into output_dir (default
    RUN_DIR/report); returns their paths. Takes a RunConfig or a run folder (the --output of
    `bit-tfx run`/`demo`)."""
    if isinstance(config_or_run_dir, configs.RunConfig):
        config = config_or_run_dir
    else:  # only the folder and the pipeline name matter here
        config = configs.RunConfig(data="", output=os.fspath(config_or_run_dir),
                                   pipeline_name=pipeline_name).validate()
    if not os.path.isfile(config.metadata_path):
        raise ReportError(f"{config.metadata_path} does not exist: RUN_DIR must be the --output "
                          "folder of `bit-tfx run` or `bit-tfx demo` (it holds metadata.sqlite and "
                          "pipeline_root)")
    data = collect(config.metadata_path, config.pipeline_name, max_examples, config.output)
    output_dir = os.path.abspath(output_dir or os.path.join(config.output, REPORT_DIR))
    os.makedirs(output_dir, exist_ok=True)
    paths = {"report": os.path.join(output_dir, REPORT_HTML), "data": os.path.join(output_dir, REPORT_JSON),
             "model_card": None}
    if data["model_card"]:
        import tensorflow as tf
        paths["model_card"] = os.path.join(output_dir, card.CARD_MARKDOWN)
        for name in (card.CARD_MARKDOWN, card.CARD_HTML):
            tf.io.gfile.copy(os.path.join(os.path.dirname(data["model_card"]), name),
                             os.path.join(output_dir, name), overwrite=True)
    with open(paths["data"], "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False)
    with open(paths["report"], "w", encoding="utf-8") as f:
        f.write(render(data))
    return paths

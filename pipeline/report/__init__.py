"""The evaluation report of a run: one self-contained HTML page and its data as JSON.

`bit-tfx report RUN_DIR` (and the end of `bit-tfx run` / `demo`) writes RUN_DIR/report/:
index.html (inline CSS, SVG charts, thumbnails as data: URIs; no script, no network),
report.json (the collected data) and model_card.md/.html (the card the ModelCardGen component
put into the model's assets.extra/). One job per module:

- collect.py: the newest run in ML Metadata and its artifacts -> a plain dict (the facts the
  model card states too come from components/model_card/facts.py);
- scan.py: the confused-examples scan (the Trainer's model over eval images, thumbnails);
- render.py: dict -> HTML, a pure function (SVG drawn there, template.html through jinja2);
- write.py: write_report, the files and where they go.

TensorFlow, TFX and TFMA are imported inside the functions that need them: the CLI registers
the command without loading them, and rendering is tested without them.

`report.render` is the function (the name callers use), which hides the module of the same
name as an attribute of this package: import from the module with `from
bit_tfx.pipeline.report.render import ...`. `report.collect` stays the module.
"""
from .collect import ReportError
from .render import render
from .write import (DEFAULT_MAX_EXAMPLES, REPORT_DIR, REPORT_HTML, REPORT_JSON,
                                           write_report)

__all__ = ["DEFAULT_MAX_EXAMPLES", "REPORT_DIR", "REPORT_HTML", "REPORT_JSON", "ReportError",
           "render", "write_report"]

"""Writing a run's report: RUN_DIR/report/index.html (render), report.json (collect's data)
and the model card the run's ModelCardGen put into the model (model_card.md/.html)."""
import json
import os

from ...components.model_card import card
from .. import configs
from .collect import ReportError, collect
from .render import render

REPORT_DIR = "report"
REPORT_HTML = "index.html"
REPORT_JSON = "report.json"
DEFAULT_MAX_EXAMPLES = 256   # eval examples the confused-examples scan runs through the model


def write_report(config_or_run_dir, output_dir=None, max_examples=DEFAULT_MAX_EXAMPLES,
                 pipeline_name=configs.PIPELINE_NAME, metadata_store=None, run_id=None):
    """Writes index.html, report.json and the model card into output_dir (default
    RUN_DIR/report); returns their paths. Takes a RunConfig or a run folder (the --output of
    `bit-tfx run`/`demo`), whose store is `metadata_store` (a mysql:// URL), else the one its
    runs recorded (metadata.run_store_uri). The run shown is the newest, or the one `run_id`
    names (runner.run_local's answer)."""
    from .. import metadata
    if isinstance(config_or_run_dir, configs.RunConfig):
        config = config_or_run_dir
    else:  # only the folder, the pipeline name and the store matter here
        run_dir = os.fspath(config_or_run_dir)
        uri = metadata.run_store_uri(run_dir, metadata_store)
        config = configs.RunConfig(data="", output=run_dir, pipeline_name=pipeline_name,
                                   metadata_store=uri if metadata.is_mysql(uri) else None).validate()
    if not metadata.is_mysql(config.metadata_uri) and not os.path.isfile(config.metadata_path):
        raise ReportError(f"{config.metadata_path} does not exist: RUN_DIR must be the --output "
                          "folder of `bit-tfx run` or `bit-tfx demo` (it holds metadata.sqlite and "
                          "pipeline_root)")
    data = collect(config.metadata_uri, config.pipeline_name, max_examples, config.output,
                   config.pipeline_root, run_id)
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

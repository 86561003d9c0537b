"""Beam as Dataflow runs it: every DoFn pickled and run in other processes with no shared
state. The DirectRunner's multi_processing mode does that locally; the pipeline run that way
(2 worker processes) must give what the in-memory run gives: the same examples, statistics
(hence the same HyperRule decision), Transform output and Evaluator metrics."""
import glob
import os

import pytest

import runs
from bit_tfx.core import keys
from bit_tfx.components.evaluation import gate
from bit_tfx.core.decision import read_decision

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]  # minutes: run in CI (.ci/run), not in `make test`
MULTI_PROCESSING = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def _examples(config):
    uri = runs.latest(config, "ImageExampleGen", "examples")[1].uri
    return {split: sorted(runs.examples(uri, split), key=lambda e: e[keys.FILENAME])
            for split in (keys.TRAIN_SPLIT, keys.EVAL_SPLIT)}


def _output(config, node, key):
    return runs.latest(config, node, key)[1].uri


def _files(uri):
    """{relative path: bytes} of the Transform graph's assets: the label vocabulary."""
    found = {}
    for path in glob.glob(os.path.join(uri, "**", "assets", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                found[os.path.relpath(path, uri)] = f.read()
    return found


def _evaluate_in_memory(config, root):
    """TFX's Evaluator on the run's own Trainer model and examples, with the in-memory
    DirectRunner and the same eval config (the run was a first run: no baseline). The models
    of two runs differ (ingestion reshuffles, so training sees another order); this compares
    the two runners on one model."""
    from tfx import v1 as tfx
    from bit_tfx.pipeline import configs, metadata
    examples = runs.latest(config, "ImageExampleGen", "examples")[1]
    imported_examples = tfx.dsl.Importer(
        source_uri=examples.uri, artifact_type=tfx.types.standard_artifacts.Examples,
        properties={"split_names": examples.properties["split_names"].string_value}).with_id("examples")
    imported_model = tfx.dsl.Importer(
        source_uri=_output(config, keys.NODE_TRAINER, "model"),
        artifact_type=tfx.types.standard_artifacts.Model).with_id("model")
    evaluator = tfx.components.Evaluator(
        examples=imported_examples.outputs["result"], model=imported_model.outputs["result"],
        eval_config=gate.eval_config(config.min_accuracy, config.max_accuracy_drop, config.num_classes))
    sqlite = str(root / "metadata.sqlite")
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="in-memory-evaluation", pipeline_root=str(root / "pipeline_root"),
        components=[imported_examples, imported_model, evaluator],
        metadata_connection_config=metadata.connection_config(sqlite),
        beam_pipeline_args=list(configs.DEFAULT_BEAM_ARGS)))
    store = metadata.open_store(sqlite)
    return gate.overall_metrics(metadata.latest_output(store, "in-memory-evaluation", "Evaluator",
                                                       "evaluation")[1].uri)


def test_multi_processing_beam_gives_the_in_memory_run_s_examples_decision_and_metrics(pushed_run, tmp_path):
    in_memory, summary, data = pushed_run
    multi = runs.run(data, tmp_path / "out", beam_args=MULTI_PROCESSING, **runs.SMOKE)

    assert _examples(multi) == _examples(in_memory)
    decisions = [read_decision(_output(c, keys.NODE_HYPERRULE, "hyperparameters")) for c in (multi, in_memory)]
    for decision in decisions:  # each names its own statistics artifact; the numbers must agree
        decision.statistics.pop("source")
    assert decisions[0] == decisions[1]
    vocabularies = _files(_output(multi, "HyperRuleTransform", "transform_graph"))
    assert vocabularies and vocabularies == _files(_output(in_memory, "HyperRuleTransform", "transform_graph"))
    metrics = gate.overall_metrics(_output(multi, keys.NODE_EVALUATOR, "evaluation"))
    assert metrics["example_count"] == len(_examples(in_memory)[keys.EVAL_SPLIT])
    # The same model and examples: the same metrics (sums in another order: float rounding).
    assert metrics == pytest.approx(_evaluate_in_memory(multi, tmp_path / "in-memory-evaluation"), rel=1e-6)

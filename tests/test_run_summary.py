"""The run's JSON (what `bit-tfx run`, `pretrain`, `demo` and `rehearse` print) is
RunSummary.to_json: the keys a script reads, per verdict, and the way back (from_json).
The pipeline tests check the values on real runs (test_full_pipeline, test_nothing_new)."""
from bit_tfx.pipeline import results

COMMON = {"verdict", "blessed", "pushed_to", "metrics", "thresholds", "bit_tfx_version",
          "data_checks", "report"}


def _trained(**extra):
    return results.RunSummary(verdict=results.VERDICT_TRAINED, blessed=True, min_accuracy=0.8,
                              max_accuracy_drop=0.01, model="/m/Format-Serving",
                              hyperparameters="/h/hyperparameters.json",
                              metrics={"sparse_categorical_accuracy": 0.9}, **extra)


def test_a_trained_run_says_where_it_pushed_and_names_the_version_only_when_it_pushed():
    pushed = _trained(pushed_to="/s/3", version=3).to_json()
    assert set(pushed) == COMMON | {"model", "hyperparameters", "version"}
    assert pushed["thresholds"] == {"min_accuracy": 0.8, "max_accuracy_drop": 0.01}
    refused = _trained(not_blessed_because=["accuracy 0.5 < 0.8"]).to_json()
    assert set(refused) == COMMON | {"model", "hyperparameters", "not_blessed_because"}
    assert refused["pushed_to"] is None and "version" not in refused


def test_a_nothing_new_run_names_the_serving_version_and_no_trained_model():
    answer = results.RunSummary(verdict=results.VERDICT_NOTHING_NEW, blessed=None,
                                min_accuracy=0.5, max_accuracy_drop=0.0, serving_version=2,
                                served_from="/s/2", same_data_because="same files",
                                trained_on={"span": 1}, next=results.NOTHING_NEW_NEXT).to_json()
    assert set(answer) == COMMON | {"serving_version", "served_from", "same_data_because",
                                    "trained_on", "next"}
    assert answer["metrics"] == {} and answer["blessed"] is None and answer["pushed_to"] is None


def test_the_json_reads_back_into_the_same_summary():
    summary = _trained(pushed_to="/s/3", version=3, report="/r/index.html",
                       rehearsal={"run": "r-1", "tasks": []})
    assert set(summary.to_json()) >= {"rehearsal", "report"}
    assert results.RunSummary.from_json(summary.to_json()) == summary

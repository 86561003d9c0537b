"""The decision as one typed record: what the rule returns is what the artifact's JSON holds
(the same keys a reader of hyperparameters.json has always seen), what comes back from it is
equal, and a file that is not a decision of this version is refused by name."""
import dataclasses
import json

import pytest

from bit_tfx.core.errors import ConfigError
from bit_tfx.core import rule, upstream
from bit_tfx.core.decision import Decision

# The artifact's keys: a contract with every reader of hyperparameters.json (people included).
DOWNSTREAM_KEYS = {
    "inputs", "resize_size", "crop_size", "random_crop", "random_flip", "mixup_alpha",
    "warmup_steps", "decay_boundaries", "decay_factor", "total_steps", "schedule_overridden",
    "rule_schedule", "optimizer", "momentum", "base_learning_rate", "base_batch_size",
    "learning_rate", "batch_size", "gradient_accumulation_steps", "effective_batch_size",
    "weight_decay", "label_smoothing", "class_weighting", "class_weights", "head_init", "seed"}
UPSTREAM_KEYS = {
    "recipe", "inputs", "epochs", "decay_epochs", "crop", "crop_area_range", "crop_aspect_range",
    "crop_size", "resize_size", "random_crop", "random_flip", "mixup_alpha", "warmup_steps",
    "decay_boundaries", "decay_factor", "total_steps", "optimizer", "momentum",
    "base_learning_rate", "base_batch_size", "learning_rate", "batch_size",
    "gradient_accumulation_steps", "effective_batch_size", "weight_decay", "label_smoothing",
    "overrides", "recipe_values", "head_init", "seed"}


@pytest.mark.parametrize("decision, expected", [
    (rule.decide(1000, 10, 32 * 32, batch_size=64, batch_policy="scale_lr", k_shot=5,
                 class_counts={str(i): 100 for i in range(10)}), DOWNSTREAM_KEYS),
    (upstream.decide(50_000, 100, batch_size=256, overrides={"epochs": 12, "decay_epochs": [4, 8]}),
     UPSTREAM_KEYS),
])
def test_the_json_holds_the_recipes_keys_and_reads_back_equal(decision, expected):
    data = json.loads(json.dumps(decision.to_json()))  # what the artifact file holds
    assert set(data) == expected
    assert Decision.from_json(data) == decision
    with_statistics = decision.with_statistics({"num_examples": 1000, "source": "/stats/6"})
    assert Decision.from_json(json.loads(json.dumps(with_statistics.to_json()))) == with_statistics
    assert decision.upstream == ("recipe" in expected)


def test_a_decision_cannot_be_changed_or_misspelt():
    d = rule.decide(100, 2, 32 * 32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.crop_size = 64
    with pytest.raises(AttributeError):
        d.crop_sise  # noqa: B018  (a typo is an error where it is written, not a silent None)


def test_a_file_of_another_version_is_refused_by_name_and_older_artifacts_read():
    data = rule.decide(100, 2, 32 * 32).to_json()
    with pytest.raises(ConfigError, match=r"/x/hyperparameters.json .*unknown fields \['crop_sise'\]"):
        Decision.from_json(dict(data, crop_sise=1), source="/x/hyperparameters.json")
    with pytest.raises(ConfigError, match=r"missing fields \['total_steps'\]"):
        Decision.from_json({k: v for k, v in data.items() if k != "total_steps"})
    with pytest.raises(ConfigError, match="not a JSON object"):
        Decision.from_json([data])
    # Artifacts written before the head start and the seed were recorded meant BiT's zero head.
    old = Decision.from_json({k: v for k, v in data.items() if k not in ("head_init", "seed")})
    assert (old.head_init, old.seed) == (rule.HEAD_ZERO, 0)

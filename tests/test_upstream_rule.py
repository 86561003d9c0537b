"""The BiT upstream recipe (core/upstream.py): the paper's numbers on the
paper's data, and how they scale to a dataset of another size. Pure Python: milliseconds."""
import math
import subprocess
import sys

import pytest

from bit_tfx.core import rule, upstream
from bit_tfx.core.rule import RuleError

IMAGENET_21K = 14_197_122


def test_the_papers_run_on_imagenet_1k():
    d = upstream.decide(upstream.IMAGENET_1K_EXAMPLES, 1000, schedule="bit-s")
    per_epoch = upstream.IMAGENET_1K_EXAMPLES / 4096
    assert (d.effective_batch_size, d.gradient_accumulation_steps) == (4096, 1)
    assert d.learning_rate == pytest.approx(0.03 * 4096 / 256) == pytest.approx(0.48)
    assert d.total_steps == math.ceil(90 * per_epoch) == 28151
    assert list(d.decay_boundaries) == [round(e * per_epoch) for e in (30, 60, 80)] == [9384, 18767, 25023]
    assert d.warmup_steps == 5000            # the paper's 5,000 steps, exactly
    assert (d.momentum, d.weight_decay, d.mixup_alpha) == (0.9, 1e-4, 0.0)
    assert (d.crop, d.crop_size, d.random_flip) == ("inception", 224, True)
    assert d.crop_area_range == (0.08, 1.0) and d.overrides == {}


def test_bit_m_on_imagenet_21k_keeps_5000_warmup_steps_and_bit_l_has_its_own_decays():
    d = upstream.decide(IMAGENET_21K, 21843, schedule="bit-m")
    assert d.warmup_steps == 5000 and d.total_steps == math.ceil(90 * IMAGENET_21K / 4096)
    bit_l = upstream.decide(IMAGENET_21K, 21843, schedule="bit-l")
    assert bit_l.epochs == 40 and bit_l.decay_epochs == (10, 23, 30, 37)
    assert len(bit_l.decay_boundaries) == 4


def test_a_small_batch_accumulates_to_4096_by_default():
    d = upstream.decide(1_000_000, 100, batch_size=256)
    assert (d.batch_size, d.gradient_accumulation_steps, d.effective_batch_size) == (256, 16, 4096)
    assert d.learning_rate == pytest.approx(0.48)
    with pytest.raises(RuleError, match="cannot accumulate"):
        upstream.decide(1_000_000, 100, batch_size=300)


def test_scale_lr_trains_the_same_epochs_at_the_batch_given():
    d = upstream.decide(1_000_000, 100, batch_size=256, batch_policy="scale_lr")
    assert (d.effective_batch_size, d.gradient_accumulation_steps) == (256, 1)
    assert d.learning_rate == pytest.approx(0.03)
    assert d.total_steps == math.ceil(90 * 1_000_000 / 256)


def test_a_small_dataset_warms_up_over_the_papers_share_of_the_run():
    d = upstream.decide(10_000, 100, batch_size=256, batch_policy="scale_lr")
    total = math.ceil(90 * 10_000 / 256)
    assert d.total_steps == total
    share = 5000 / (90 * upstream.IMAGENET_1K_EXAMPLES / 4096)
    assert d.warmup_steps == round(share * total) < d.decay_boundaries[0]
    assert d.warmup_steps < 5000 * 4096 / 256   # not the 80,000 steps of the paper's examples


def test_the_learning_rate_follows_the_downstream_rule_shape():
    d = upstream.decide(10_000, 100, batch_size=256, batch_policy="scale_lr")
    lr = lambda s: rule.learning_rate(s, d.learning_rate, d.warmup_steps, d.decay_boundaries,
                                      d.total_steps)
    first = d.decay_boundaries[0]
    assert lr(0) == 0.0 and lr(d.warmup_steps) == pytest.approx(0.03)
    assert lr(first) == pytest.approx(0.03) and lr(first + 1) == pytest.approx(0.003)
    assert lr(d.total_steps) is None


def test_overrides_are_recorded_beside_the_recipe_value():
    d = upstream.decide(10_000, 100, batch_size=64, batch_policy="scale_lr",
                        overrides={"epochs": 30, "decay_epochs": [10, 20, 25], "crop_size": 32})
    assert d.epochs == 30 and d.crop_size == d.resize_size == 32
    assert d.overrides["epochs"] == {"value": 30, "recipe": 90}
    assert d.overrides["crop_size"] == {"value": 32, "recipe": 224}
    assert d.total_steps == math.ceil(30 * 10_000 / 64)


@pytest.mark.parametrize("overrides, message", [
    ({"epoch": 3}, "keys among"),
    ({"epochs": 0}, "positive int"),
    ({"epochs": True}, "positive int"),
    ({"decay_epochs": [60, 30]}, "strictly increasing"),
    ({"epochs": 10, "decay_epochs": [30, 60, 80]}, "strictly increasing"),
    ({"learning_rate": -1.0}, "positive float"),
    ({"warmup_steps": 10_000_000}, "below the total"),
])
def test_invalid_overrides_name_the_field(overrides, message):
    with pytest.raises(RuleError, match=message):
        upstream.decide(10_000, 100, batch_size=256, batch_policy="scale_lr", overrides=overrides)


def test_bad_inputs_are_refused():
    with pytest.raises(RuleError, match="num_classes"):
        upstream.decide(10_000, 1)
    with pytest.raises(RuleError, match="schedule must be one of"):
        upstream.decide(10_000, 10, schedule="bit-xl")
    with pytest.raises(RuleError, match="dataset_size"):
        upstream.decide(0, 10)


def test_the_upstream_rule_imports_no_tensorflow():
    code = ("import sys; import bit_tfx.core.upstream; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

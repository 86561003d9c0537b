"""The HyperRule arithmetic against the official rule, on every boundary."""
import dataclasses
import subprocess
import sys

import pytest

from bit_tfx.core import rule


@pytest.mark.parametrize("size, expected", [
    (1, (100, [200, 300, 400], 500)),
    (19_999, (100, [200, 300, 400], 500)),
    (20_000, (500, [3000, 6000, 9000], 10_000)),
    (499_999, (500, [3000, 6000, 9000], 10_000)),
    (500_000, (500, [6000, 12_000, 18_000], 20_000)),
    (14_000_000, (500, [6000, 12_000, 18_000], 20_000)),
])
def test_schedule_buckets_and_boundaries(size, expected):
    assert rule.schedule(size) == expected


@pytest.mark.parametrize("size, alpha", [(19_999, 0.0), (20_000, 0.1), (500_000, 0.1)])
def test_mixup_switches_on_at_20000(size, alpha):
    assert rule.mixup_alpha(size) == alpha


@pytest.mark.parametrize("area, expected", [
    (32 * 32, (160, 128)),
    (96 * 96 - 1, (160, 128)),
    (96 * 96, (512, 480)),        # exactly 96*96 is not "below"
    (375 * 500, (512, 480)),
])
def test_resolution_regimes(area, expected):
    assert rule.resolution(area) == expected


def test_learning_rate_follows_official_get_lr():
    warmup, bounds, total = rule.schedule(50_000)
    lr = lambda s: rule.learning_rate(s, 0.003, warmup, bounds, total)  # noqa: E731
    assert lr(0) == 0.0                       # linear warmup from exactly 0
    assert lr(250) == pytest.approx(0.0015)
    assert lr(500) == pytest.approx(0.003)
    assert lr(3000) == pytest.approx(0.003)   # boundary still has the higher rate
    assert lr(3001) == pytest.approx(0.0003)
    assert lr(6001) == pytest.approx(0.00003)
    assert lr(9001) == pytest.approx(0.000003)
    assert lr(9999) == pytest.approx(0.000003)
    assert lr(10_000) is None                 # training ends at total


def test_decide_records_inputs_and_every_decision():
    d = rule.decide(19_999, 10, 32 * 32)
    assert d.inputs["num_train_examples"] == 19_999
    assert d.inputs["dataset_size"] == 19_999
    assert (d.resize_size, d.crop_size) == (160, 128)
    assert d.random_crop and d.random_flip
    assert d.mixup_alpha == 0.0
    assert (d.warmup_steps, d.decay_boundaries, d.total_steps) == (100, (200, 300, 400), 500)
    assert d.momentum == 0.9 and d.learning_rate == 0.003 and d.batch_size == 512
    assert d.gradient_accumulation_steps == 1 and not d.schedule_overridden


def test_task_semantics_switch_crop_and_flip_independently():
    d = rule.decide(1000, 3, 200 * 200, preserve_count=True)
    assert not d.random_crop and d.random_flip
    d = rule.decide(1000, 3, 200 * 200, preserve_orientation=True)
    assert d.random_crop and not d.random_flip


def test_k_shot_uses_k_times_classes_as_dataset_size():
    d = rule.decide(60_000, 10, 32 * 32, k_shot=5)
    assert d.inputs["dataset_size"] == 50
    assert d.total_steps == 500 and d.mixup_alpha == 0.0
    # 2000-shot on 10 classes crosses into the middle bucket and turns MixUp on.
    d = rule.decide(60_000, 10, 32 * 32, k_shot=2000)
    assert d.total_steps == 10_000 and d.mixup_alpha == 0.1


def test_smaller_batch_accumulates_or_scales_lr_as_recorded():
    d = rule.decide(1000, 3, 10_000, batch_size=128)
    assert (d.learning_rate, d.gradient_accumulation_steps, d.effective_batch_size) == (0.003, 4, 512)
    d = rule.decide(1000, 3, 10_000, batch_size=128, batch_policy="scale_lr")
    assert d.learning_rate == pytest.approx(0.00075) and d.gradient_accumulation_steps == 1
    assert d.total_steps == 500  # step counts are kept, as in the official code
    d = rule.decide(1000, 3, 10_000, batch_size=16, batch_policy="keep_lr")
    assert (d.learning_rate, d.gradient_accumulation_steps, d.effective_batch_size) == (0.003, 1, 16)
    assert d.inputs["batch_policy"] == "keep_lr" and d.total_steps == 500
    with pytest.raises(rule.RuleError, match="divisor of 512"):
        rule.decide(1000, 3, 10_000, batch_size=100)


def test_schedule_override_is_recorded_not_silent():
    d = rule.decide(1000, 3, 10_000, schedule_override={"warmup": 2, "boundaries": [4, 6, 8], "total": 10})
    assert d.schedule_overridden is True
    assert (d.warmup_steps, d.decay_boundaries, d.total_steps) == (2, (4, 6, 8), 10)
    assert d.rule_schedule == {"warmup_steps": 100, "decay_boundaries": [200, 300, 400],
                                  "total_steps": 500, "learning_rate": 0.003}
    assert d.learning_rate == 0.003
    d = rule.decide(1000, 3, 10_000, schedule_override={"warmup": 2, "boundaries": [4], "total": 10,
                                                         "learning_rate": 0.1})
    assert d.learning_rate == 0.1 and d.rule_schedule["learning_rate"] == 0.003


@pytest.mark.parametrize("override", [
    {"warmup": 2, "total": 10},
    {"warmup": 5, "boundaries": [4], "total": 10},
    {"warmup": 2, "boundaries": [6, 4], "total": 10},
    {"warmup": 2, "boundaries": [4], "total": 4},
    {"warmup": 2.5, "boundaries": [4], "total": 10},
    {"warmup": 2, "boundaries": [4], "total": 10, "learning_rate": -1},
    {"warmup": 2, "boundaries": [4], "total": 10, "momentum": 0.5},
    {"warmup": 2, "boundaries": 5, "total": 10},      # not a list: was a TypeError
    {"warmup": 2, "boundaries": "4", "total": 10},
])
def test_bad_schedule_override_is_refused(override):
    with pytest.raises(rule.RuleError, match="schedule_override"):
        rule.decide(1000, 3, 10_000, schedule_override=override)


@pytest.mark.parametrize("kwargs, field", [
    (dict(num_train_examples=100, num_classes=1, image_area=100), "num_classes"),
    (dict(num_train_examples=0, num_classes=2, image_area=100), "dataset_size"),
    (dict(num_train_examples=10, num_classes=2, image_area=0), "image_area"),
])
def test_invalid_inputs_name_the_field(kwargs, field):
    with pytest.raises(rule.RuleError, match=field):
        rule.decide(**kwargs)


def test_rule_module_imports_no_tensorflow():
    code = ("import sys; import bit_tfx.core.rule, bit_tfx.core.keys; "
            "bad = [m for m in ('tensorflow', 'tfx', 'apache_beam') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_class_weights_are_inverse_frequency_and_off_by_default():
    d = rule.decide(1000, 3, 32 * 32)
    assert d.class_weighting is None and d.class_weights is None  # the HyperRule's own
    d = rule.decide(1000, 3, 32 * 32, class_counts={"a": 800, "b": 150, "c": 50})
    assert d.class_weighting == "inverse_frequency"
    w = d.class_weights
    assert w == pytest.approx({"a": 1000 / 2400, "b": 1000 / 450, "c": 1000 / 150})
    # the mean weight over the training examples is 1: the loss keeps its scale
    assert (800 * w["a"] + 150 * w["b"] + 50 * w["c"]) / 1000 == pytest.approx(1.0)
    k = rule.decide(1000, 3, 32 * 32, k_shot=5, class_counts={"a": 800, "b": 150, "c": 50})
    assert set(k.class_weights.values()) == {1.0}  # k of every class: balanced already
    with pytest.raises(rule.RuleError, match="2 of 3 classes"):
        rule.decide(1000, 3, 32 * 32, class_counts={"a": 800, "b": 200})


def test_head_start_and_seed_are_recorded_and_the_rule_s_zero_head_one_flag_away():
    d = rule.decide(1000, 3, 32 * 32)
    assert d.head_init == rule.HEAD_LINEAR_PROBE and d.seed == 0  # the product's defaults
    exact = rule.decide(1000, 3, 32 * 32, head_init=rule.HEAD_ZERO, seed=7)
    assert exact.head_init == "zero" and exact.seed == 7
    # nothing else of the rule moves with them
    assert dataclasses.replace(exact, head_init=d.head_init, seed=d.seed) == d
    with pytest.raises(rule.RuleError, match="head_init must be one of"):
        rule.decide(1000, 3, 32 * 32, head_init="probe")
    for bad in (-1, 2 ** 31, 1.5, True):
        with pytest.raises(rule.RuleError, match="seed must be an integer"):
            rule.decide(1000, 3, 32 * 32, seed=bad)

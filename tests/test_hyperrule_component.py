"""The HyperRule component reads TFDV statistics and applies the official rule."""
import dataclasses

import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from bit_tfx.core import dataset_facts, keys
from bit_tfx.core.errors import ConfigError
from bit_tfx.components.hyperrule import component
from bit_tfx.core import rule
from bit_tfx.core.decision import read_decision
from bit_tfx.core.options import HyperRuleOptions

PARAMS = HyperRuleOptions(preserve_count=False, preserve_orientation=False, batch_size=512,
                          batch_policy="accumulate", k_shot=None, schedule_override=None,
                          head_init="zero", seed=0)
# The official bit_hyperrule.py's schedule, as the paper's code has it (shared/reference/
# bit-recipe.md): (warmup, x0.1 after these steps, total) by training-set size.
PAPER_SCHEDULE = {1: (100, [200, 300, 400], 500), 19_999: (100, [200, 300, 400], 500),
                  20_000: (500, [3000, 6000, 9000], 10_000), 499_999: (500, [3000, 6000, 9000], 10_000),
                  500_000: (500, [6000, 12_000, 18_000], 20_000)}


def stats(num_examples, num_classes, heights, widths):
    """A train-split DatasetFeatureStatistics as StatisticsGen writes it."""
    d = statistics_pb2.DatasetFeatureStatistics(num_examples=num_examples)
    for name, (mean, median) in ((keys.IMAGE_HEIGHT, heights), (keys.IMAGE_WIDTH, widths)):
        f = d.features.add(type=statistics_pb2.FeatureNameStatistics.INT)
        f.path.step.append(name)
        f.num_stats.mean, f.num_stats.median = mean, median
        f.num_stats.min, f.num_stats.max = 1, 4 * median
    f = d.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
    f.path.step.append(keys.LABEL_TEXT)
    f.string_stats.unique = num_classes
    return d


@pytest.mark.parametrize("n", sorted(PAPER_SCHEDULE))
@pytest.mark.parametrize("side", [32, 95, 96, 500])
def test_decision_equals_official_rule_in_every_bucket_and_regime(n, side):
    decision = component.decide_from_statistics(stats(n, 10, (side, side), (side, side)), PARAMS)
    warmup, boundaries, total = PAPER_SCHEDULE[n]
    assert (decision.warmup_steps, list(decision.decay_boundaries), decision.total_steps) == \
        (warmup, boundaries, total)
    assert decision.mixup_alpha == (0.1 if n >= 20_000 else 0.0)
    assert (decision.resize_size, decision.crop_size) == ((160, 128) if side < 96 else (512, 480))
    assert decision.statistics["num_examples"] == n and decision.statistics["num_classes"] == 10


def test_median_not_mean_decides_the_regime():
    # A few huge photos drag the mean past 96x96; the typical image is still tiny.
    decision = component.decide_from_statistics(stats(1000, 5, (400, 32), (400, 32)), PARAMS)
    assert decision.statistics["image_area"] == 32 * 32 and decision.crop_size == 128


def test_missing_feature_is_named():
    d = stats(100, 3, (50, 50), (50, 50))
    del d.features[1]
    with pytest.raises(dataset_facts.StatisticsError, match="image/width"):
        component.decide_from_statistics(d, PARAMS)


def test_invalid_component_configuration_fails_at_construction():
    with pytest.raises(rule.RuleError, match="batch_size 96"):
        component.HyperRule(statistics=None, options=HyperRuleOptions(batch_size=96))
    with pytest.raises(rule.RuleError, match="schedule_override"):
        component.HyperRule(statistics=None, options=HyperRuleOptions(schedule_override={"warmup": 1}))


def _with_class_counts(d, counts):
    label = next(f for f in d.features if f.path.step == [keys.LABEL_TEXT]).string_stats
    label.unique = len(counts)
    for rank, (name, count) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1])):
        label.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=name,
                                         sample_count=count)
    return d


def test_k_shot_larger_than_the_smallest_class_is_refused_naming_it():
    d = _with_class_counts(stats(11, 2, (50, 50), (50, 50)), {"cat": 6, "dog": 5})
    with pytest.raises(rule.RuleError, match="k_shot 10000.*'dog': 5") as e:
        component.decide_from_statistics(d, dataclasses.replace(PARAMS, k_shot=10_000))
    assert isinstance(e.value, ConfigError)  # the CLI's exit 2
    with pytest.raises(rule.RuleError, match="k_shot 6.*'dog': 5"):
        component.decide_from_statistics(d, dataclasses.replace(PARAMS, k_shot=6))
    decision = component.decide_from_statistics(d, dataclasses.replace(PARAMS, k_shot=5))
    assert decision.inputs["dataset_size"] == 10


def test_k_shot_with_more_classes_than_the_histogram_shows():
    # TFDV keeps a bounded rank histogram: a class left out of it has at most the count of
    # the last one shown, which is enough to refuse a k above it.
    d = _with_class_counts(stats(30, 3, (50, 50), (50, 50)), {"a": 20, "b": 7})
    d.features[-1].string_stats.unique = 3
    with pytest.raises(rule.RuleError, match="k_shot 8"):
        component.decide_from_statistics(d, dataclasses.replace(PARAMS, k_shot=8))
    assert component.decide_from_statistics(d, dataclasses.replace(PARAMS, k_shot=3)).inputs["k_shot"] == 3


UPSTREAM = dict(schedule="bit-m", batch_size=64, batch_policy="accumulate", overrides="", seed=0)


def test_upstream_recipe_reads_the_statistics_and_scales_the_paper_s_schedule():
    decision = component.upstream_from_statistics(stats(12_800, 100, (64, 64), (64, 64)), UPSTREAM)
    # 90 epochs of 12,800 examples at the paper's 4096 (64 x 64 accumulated), x0.1 at 30/60/80.
    assert decision.recipe == "bit-upstream" and decision.inputs["num_classes"] == 100
    assert decision.effective_batch_size == 4096 and decision.gradient_accumulation_steps == 64
    assert decision.total_steps == 282 and decision.decay_boundaries == (94, 188, 250)
    assert decision.learning_rate == pytest.approx(0.48) and decision.weight_decay == 1e-4
    assert decision.crop == "inception" and decision.crop_size == 224
    assert decision.statistics["num_examples"] == 12_800


def test_upstream_overrides_are_recorded_and_an_epochs_override_must_fit_its_decays():
    params = dict(UPSTREAM, batch_policy="scale_lr",
                  overrides='{"epochs": 12, "decay_epochs": [4, 8, 11], "crop_size": 64}')
    decision = component.upstream_from_statistics(stats(7200, 100, (64, 64), (64, 64)), params)
    assert decision.overrides["epochs"] == {"value": 12, "recipe": 90}
    assert decision.crop_size == 64 and decision.total_steps == 1350
    with pytest.raises(ConfigError, match="decay_epochs"):
        component.UpstreamRecipe(statistics=None, overrides={"epochs": 12})
    with pytest.raises(ConfigError, match="schedule"):
        component.UpstreamRecipe(statistics=None, schedule="bit-x")


def test_class_weighted_reads_the_label_histogram():
    d = stats(1000, 3, (32, 32), (32, 32))
    hist = next(f for f in d.features if f.path.step[0] == keys.LABEL_TEXT).string_stats.rank_histogram
    for label, n in (("cat", 700), ("dog", 200), ("owl", 100)):
        hist.buckets.add(label=label, sample_count=n)
    off = component.decide_from_statistics(d, PARAMS)
    on = component.decide_from_statistics(d, dataclasses.replace(PARAMS, class_weighted=True))
    assert off.class_weights is None
    assert on.class_weights == pytest.approx({"cat": 1000 / 2100, "dog": 1000 / 600, "owl": 1000 / 300})


@pytest.mark.pipeline
def test_class_weighted_run_records_weights_from_the_real_statistics(tmp_path):
    """`--class-weighted` through the real ingestion and StatisticsGen: the decision's weights
    are N / (C x n) of the train split the statistics counted."""
    import images
    import runs
    for seed, (label, n) in enumerate((("common", 24), ("rare", 6))):
        for i in range(n):
            images.write(str(tmp_path / "data" / label / f"{i:03d}.png"),
                         images.rgb_png(24, 24, seed=1000 * seed + i))
    config = runs.run(tmp_path / "data", tmp_path / "out", class_weighted=True)
    _, artifact = runs.latest(config, keys.NODE_HYPERRULE, keys.HYPERPARAMETERS_KEY)
    decision = read_decision(artifact.uri)
    _, examples = runs.latest(config, keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY)
    counts = {}
    for example in runs.examples(examples.uri, keys.TRAIN_SPLIT):  # counted from the examples
        label = example[keys.LABEL_TEXT].decode()
        counts[label] = counts.get(label, 0) + 1
    total = sum(counts.values())
    assert decision.class_weighting == "inverse_frequency"
    assert decision.class_weights == pytest.approx({c: total / (2 * n) for c, n in counts.items()})
    assert decision.class_weights["rare"] > 2 * decision.class_weights["common"]

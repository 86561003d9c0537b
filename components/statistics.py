"""Reading StatisticsGen's output: the one reader of its ExampleStatistics artifacts, for the
HyperRule, ImageSchemaGen and the model card / report facts.

Loading goes through TFX's own loader (stats_artifact_utils.load_statistics), which knows every
layout StatisticsGen has written (FeatureStats.pb; stats_tfrecord before TFX 0.29). Finding a
feature and the facts the HyperRule needs from one split are pure protobuf reads.

TFX and TFDV are imported inside load_split_statistics only: reading facts from a proto
already in hand needs neither.
"""
from ..core import keys


class StatisticsError(ValueError):
    """The statistics lack what is needed; names the split or feature and the cause."""


def load_split_statistics(statistics_artifact, split):
    """The DatasetFeatureStatistics of one split of an ExampleStatistics artifact (StatisticsGen
    writes exactly one dataset per split). Raises StatisticsError when the artifact has no such
    split or its file is missing or unreadable."""
    import tensorflow as tf
    from tfx.components.statistics_gen import stats_artifact_utils
    try:
        stats = stats_artifact_utils.load_statistics(statistics_artifact, split).proto()
    except (ValueError, IOError, tf.errors.OpError) as e:  # no such split; no file
        raise StatisticsError(f"no statistics for split {split!r} in {statistics_artifact.uri} "
                              f"(splits {statistics_artifact.split_names}): {e}") from e
    if len(stats.datasets) != 1:
        raise StatisticsError(f"the {split!r} statistics in {statistics_artifact.uri} hold "
                              f"{len(stats.datasets)} datasets, expected 1")
    return stats.datasets[0]


def feature(dataset, name):
    """The FeatureNameStatistics of a top-level feature (by path, or by the older name field)."""
    for f in dataset.features:
        if list(f.path.step) == [name] or f.name == name:
            return f
    raise StatisticsError(f"feature {name!r} is missing from the statistics; the examples must "
                          "come from ImageExampleGen or carry the same features")


def _numeric(dataset, name):
    stats = feature(dataset, name).num_stats
    summary = {"mean": stats.mean, "median": stats.median, "min": stats.min, "max": stats.max}
    if summary["median"] <= 0:
        raise StatisticsError(f"feature {name!r} has no positive median in the statistics: {summary}")
    return summary


def read_dataset_facts(dataset):
    """What the HyperRule needs (and the report and model card state) from one split's
    DatasetFeatureStatistics."""
    height = _numeric(dataset, keys.IMAGE_HEIGHT)
    width = _numeric(dataset, keys.IMAGE_WIDTH)
    label = feature(dataset, keys.LABEL_TEXT).string_stats
    return {
        "num_examples": int(dataset.num_examples),
        "num_classes": int(label.unique),
        "image_height": height,
        "image_width": width,
        "image_area": height["median"] * width["median"],
        "image_area_statistic": "median(image/height) * median(image/width) of the train split",
    }


def class_counts(dataset):
    """{label: examples} from the label's rank histogram (StatisticsGen keeps its top
    num_rank_histogram_buckets labels; compare len() with read_dataset_facts' num_classes),
    or from its top values where there is no histogram."""
    stats = feature(dataset, keys.LABEL_TEXT).string_stats
    counts = {b.label: int(b.sample_count) for b in stats.rank_histogram.buckets}
    return counts or {v.value: int(v.frequency) for v in stats.top_values}

"""Reading StatisticsGen's output: the one reader of its ExampleStatistics artifacts, for the
HyperRule, ImageSchemaGen and the model card / report facts.

Loading goes through TFX's own loader (stats_artifact_utils.load_statistics), which knows every
layout StatisticsGen has written (FeatureStats.pb; stats_tfrecord before TFX 0.29). Finding a
feature and the facts the HyperRule needs from one split are pure protobuf reads, in
core/dataset_facts.py (DatasetFacts).

TFX and TFDV are imported inside load_split_statistics only: reading facts from a proto
already in hand needs neither.
"""
from ..core.dataset_facts import StatisticsError


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

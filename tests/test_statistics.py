"""The one reader of StatisticsGen output (components/statistics.py), on artifacts laid out as
StatisticsGen writes them: today's FeatureStats.pb and the stats_tfrecord of TFX before 0.29."""
import os

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.types import artifact_utils, standard_artifacts

from bit_tfx.core import dataset_facts, keys
from bit_tfx.components import statistics


def _dataset(num_examples=120, labels=("cat", "dog")):
    d = statistics_pb2.DatasetFeatureStatistics(num_examples=num_examples)
    for name, median in ((keys.IMAGE_HEIGHT, 40), (keys.IMAGE_WIDTH, 50)):
        f = d.features.add(type=statistics_pb2.FeatureNameStatistics.INT)
        f.path.step.append(name)
        f.num_stats.mean, f.num_stats.median, f.num_stats.min, f.num_stats.max = median, median, 1, 99
    f = d.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
    f.path.step.append(keys.LABEL_TEXT)
    f.string_stats.unique = len(labels)
    for i, label in enumerate(labels):
        f.string_stats.rank_histogram.buckets.add(label=label, sample_count=num_examples // len(labels) + i)
    return d


def _artifact(root, splits, tfx_version=None):
    """An ExampleStatistics artifact. tfx_version set: as resolved from MLMD (LIVE) and written
    by that TFX version; unset: a new artifact of this run (TFX's current layout)."""
    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(list(splits))
    if tfx_version is not None:
        artifact.mlmd_artifact.state = metadata_store_pb2.Artifact.LIVE
        artifact.set_string_custom_property("tfx_version", tfx_version)
    for split, dataset in splits.items():
        folder = artifact_utils.get_split_uri([artifact], split)  # Split-train; train before 0.29
        os.makedirs(folder)
        if dataset is None:
            continue
        data = statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset]).SerializeToString()
        if tfx_version is not None and tfx_version < "0.29":
            with tf.io.TFRecordWriter(os.path.join(folder, "stats_tfrecord")) as w:
                w.write(data)
        else:
            with open(os.path.join(folder, "FeatureStats.pb"), "wb") as f:
                f.write(data)
    return artifact


@pytest.mark.parametrize("tfx_version", [None, "1.16.0", "0.28.0"])
def test_every_statisticsgen_layout_reads_the_same_facts(tmp_path, tfx_version):
    artifact = _artifact(tmp_path, {keys.TRAIN_SPLIT: _dataset()}, tfx_version)
    dataset = statistics.load_split_statistics(artifact, keys.TRAIN_SPLIT)
    facts = dataset_facts.read_dataset_facts(dataset)
    assert (facts.num_examples, facts.num_classes, facts.image_area) == (120, 2, 40 * 50)
    assert dataset_facts.class_counts(dataset) == {"cat": 60, "dog": 61}


def test_a_missing_split_or_file_is_a_statistics_error_naming_the_split(tmp_path):
    artifact = _artifact(tmp_path, {keys.TRAIN_SPLIT: _dataset(), keys.EVAL_SPLIT: None})
    with pytest.raises(dataset_facts.StatisticsError, match="split 'eval'"):
        statistics.load_split_statistics(artifact, keys.EVAL_SPLIT)  # listed, but no file
    with pytest.raises(dataset_facts.StatisticsError, match="split 'test'"):
        statistics.load_split_statistics(artifact, "test")  # not a split of the artifact


def test_a_missing_feature_is_named():
    dataset = _dataset()
    del dataset.features[2]
    with pytest.raises(dataset_facts.StatisticsError, match="image/class/text"):
        dataset_facts.class_counts(dataset)

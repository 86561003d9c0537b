"""Running the real pipeline in tests and reading what it produced."""
import glob
import json
import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components import keys
from pipeline import configs, metadata, pipeline, runner


def run(data, output, through=pipeline.THROUGH_HYPERRULE, **overrides):
    config = configs.RunConfig(data=str(data), output=str(output), **overrides).validate()
    runner.run_local(pipeline.build(config, through))
    return config


def latest(config, node_id, key):
    store = metadata.open_store(config.metadata_path)
    return metadata.latest_output(store, config.pipeline_name, node_id, key)


def examples(artifact_uri, split):
    files = glob.glob(os.path.join(artifact_uri, f"Split-{split}", "*.gz"))
    result = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        ex = tf.train.Example.FromString(record.numpy())
        result.append({k: (v.bytes_list.value[0] if v.HasField("bytes_list") else v.int64_list.value[0])
                       for k, v in ex.features.feature.items()})
    return result


def quarantine_report(artifact_uri):
    with open(os.path.join(artifact_uri, keys.QUARANTINE_DIR, keys.QUARANTINE_REPORT)) as f:
        return json.load(f)


def anomalies(artifact_uri, split):
    """{feature name: [anomaly short descriptions]} for one split."""
    path = os.path.join(artifact_uri, f"Split-{split}", "SchemaDiff.pb")
    proto = anomalies_pb2.Anomalies()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    return {name: [r.short_description for r in info.reason]
            for name, info in proto.anomaly_info.items()}

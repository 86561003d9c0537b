"""Running the real pipeline in tests and reading what it produced."""
import glob
import json
import os

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow_metadata.proto.v0 import anomalies_pb2

import images
from bit_tfx.core import keys
from bit_tfx.pipeline import configs, metadata, pipeline, runner


# Red vs blue: a tiny random model separates them within a few dozen steps.
SMOKE = dict(through=pipeline.THROUGH_PUSHER, model_spec="random:tiny", batch_size=16,
             batch_policy="scale_lr", min_accuracy=0.75, num_classes=2, checkpoint_every=10,
             schedule_override={"warmup": 2, "boundaries": [20, 25, 28], "total": 30,
                                "learning_rate": 0.01})


def colour_images(root, per_class, seed, shuffle_labels=False):
    rng = np.random.default_rng(seed)
    colours = {"red": (200, 30, 30), "blue": (30, 30, 200)}
    for i in range(per_class * 2):
        colour = list(colours)[i % 2]
        pixels = np.clip(rng.normal(colours[colour], 25, (40, 40, 3)), 0, 255).astype(np.uint8)
        label = rng.choice(list(colours)) if shuffle_labels else colour
        images.write(os.path.join(root, label, f"{seed}_{i:03d}.png"), images.encode(Image.fromarray(pixels), "PNG"))


def run(data, output, through=pipeline.THROUGH_HYPERRULE, **overrides):
    config = configs.RunConfig(data=str(data), output=str(output), **overrides).validate()
    runner.run_local(pipeline.build(config, through))
    return config


def latest(config, node_id, key):
    store = metadata.open_store(config.metadata_uri)
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


def cli_in_process(argv, capsys):
    """`bit-tfx ARGV` in this process: (exit code, stdout, stderr). The root logger's
    handlers are put back afterwards (main() points them at the test's captured stderr)."""
    import logging
    from bit_tfx.cli import main as cli
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = cli.main(argv)
    finally:
        root.handlers[:], root.level = handlers, level
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def raised(make):
    """The exception `make()` raises (a test fails when it raises none)."""
    try:
        make()
    except Exception as e:  # pylint: disable=broad-except
        return e
    raise AssertionError("nothing raised")


def exec_properties(component):
    """A component's exec properties as an orchestrator hands them to its executor (protos as
    JSON, unset ones left out)."""
    from tfx.utils import proto_utils
    return {k: (proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else v)
            for k, v in component.exec_properties.items() if v is not None}


def ingest(tmp_path, data, **kwargs):
    """ImageExampleGen's executor on a real Beam pipeline (no orchestrator), its Examples under
    tmp_path/examples: (its quarantine report, that folder). kwargs: the component's."""
    from tfx.types import standard_artifacts
    from bit_tfx.components.image_example_gen import component, executor, sources
    gen = component.ImageExampleGen(sources.resolve(data), **kwargs)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    executor.Executor().Do({}, {keys.EXAMPLES_KEY: [examples]}, exec_properties(gen))
    with open(os.path.join(examples.uri, keys.QUARANTINE_DIR, keys.QUARANTINE_REPORT)) as f:
        return json.load(f), examples.uri

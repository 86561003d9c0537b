"""ServingBaseline's executor: a copy of the model now serving, and the schema it shipped with.

Where to look (exec properties): a Vertex AI Endpoint (project, region, endpoint name) when the
Pusher deploys there, else the serving directory the filesystem Pusher pushes to (a local
folder or gs://). Outputs, each with the custom properties named in keys.py:

  model   the served version's SavedModel under `<uri>/Format-Serving` (the layout the
          Evaluator loads, tfx.utils.path_utils.serving_model_path), without its
          assets.extra/ (model card, warm-start backbone: TFMA needs neither); `served` 1 and
          `served_from` the version. With nothing served: an empty artifact, `served` 0 and
          `not_served_because`; the Evaluator (evaluation/evaluator.py) then has no baseline.
  schema  the served version's assets.extra/schema.pbtxt (the schema of the data it was
          trained on) as a Schema artifact; `served` 0 and the reason when there is none.

Whether this run trains (on `model`, the artifact the DAG's tfx.dsl.Cond reads): `train` 1 with
`train_because`, or 0 with `nothing_new_because` when this run's Examples are the data the
serving version was trained on (its assets.extra/training_data.json, training_data.py), and
`served_training_data`, that record. The `force` parameter (bit-tfx run --force) makes it 1.

Locally a driver (ServingDriver) looks up the serving version before TFX's cache check and
adds it to the execution properties, so that the step is a cache hit only while the same
version serves (an interrupted run resumes from its cache; a push makes the next run look
again). Kubeflow / Vertex compile no driver for this step; there the examples are new on every
run (ExampleGen is uncached), so the step always runs. The executor looks up for itself.

The executor is referenced by its import path, as Kubeflow / Vertex containers load it.
"""
import os
import re

import json

from absl import logging
from tfx.dsl.components.base import base_driver, base_executor
from tfx.dsl.io import fileio
from tfx.orchestration.portable import base_driver as portable_driver
from tfx.orchestration import data_types_utils
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from ...core import keys
from . import training_data
from ...core import versions

SERVING_DIRECTORY_KEY = "serving_directory"
VERTEX_PROJECT_KEY = "vertex_project"
VERTEX_REGION_KEY = "vertex_region"
VERTEX_ENDPOINT_KEY = "vertex_endpoint"
FORCE_KEY = "force"                      # 1: train even on the serving version's data
INPUT_BASE_KEY = keys.INPUT_BASE_KEY     # recorded with the comparison, for the run's answer
SERVING_NOW_KEY = "serving_now"          # set by ServingDriver: part of the local cache key


def locate(exec_properties):
    """(folder of the model now serving, or None; where it was found, or why nothing is)."""
    endpoint = exec_properties.get(VERTEX_ENDPOINT_KEY)
    if endpoint:
        from . import vertex  # pylint: disable=import-outside-toplevel
        return vertex.served_model_uri(exec_properties[VERTEX_PROJECT_KEY],
                                       exec_properties[VERTEX_REGION_KEY], endpoint)
    serving_dir = exec_properties[SERVING_DIRECTORY_KEY]  # the component requires one of the two
    folder, reason = versions.serving_version(serving_dir)
    return folder, (reason if folder is None else f"the newest version under {serving_dir}")


def mark_not_served(artifact, reason):
    artifact.set_int_custom_property(keys.SERVED_PROPERTY, 0)
    artifact.set_string_custom_property(keys.NOT_SERVED_REASON_PROPERTY, reason)


def mark_served(artifact, folder):
    artifact.set_int_custom_property(keys.SERVED_PROPERTY, 1)
    artifact.set_string_custom_property(keys.SERVED_FROM_PROPERTY, folder)


def is_served(artifact):
    """True for a ServingBaseline output holding what is served (any other artifact: True)."""
    return not artifact.has_custom_property(keys.SERVED_PROPERTY) or bool(
        artifact.get_int_custom_property(keys.SERVED_PROPERTY))


def not_served_reason(artifact):
    return artifact.get_string_custom_property(keys.NOT_SERVED_REASON_PROPERTY)


def is_training(artifact):
    """True unless a ServingBaseline output says this run's data is the serving model's."""
    return not artifact.has_custom_property(keys.TRAIN_PROPERTY) or bool(
        artifact.get_int_custom_property(keys.TRAIN_PROPERTY))


def read_training_record(folder):
    """The served version's assets.extra/training_data.json as a dict, or None."""
    path = os.path.join(folder, keys.ASSETS_EXTRA_DIR, keys.TRAINING_DATA_FILE)
    if not fileio.exists(path):
        return None
    with fileio.open(path) as f:
        return json.loads(f.read())


def mark_training(model, examples, folder, exec_properties):
    """`train` (1/0) and why on the model output: is this run's data new to the serving version?"""
    current = training_data.record_of(examples, exec_properties.get(INPUT_BASE_KEY) or "")
    if folder is None:
        same, reason = False, "nothing is serving yet"
    else:
        served = read_training_record(folder)
        if served is not None:
            model.set_string_custom_property(keys.SERVED_TRAINING_DATA_PROPERTY, training_data.dumps(served))
        same, reason = training_data.compare(current, served, os.path.basename(folder))
    if same and exec_properties.get(FORCE_KEY):
        same, reason = False, f"forced (--force): {reason}"
    model.set_int_custom_property(keys.TRAIN_PROPERTY, 0 if same else 1)
    model.set_string_custom_property(
        keys.NOTHING_NEW_BECAUSE_PROPERTY if same else keys.TRAIN_BECAUSE_PROPERTY, reason)
    if same:
        logging.warning("Nothing new: %s. Transform, Trainer, Evaluator, ModelCardGen and Pusher "
                        "are skipped (run with --force to train anyway).", reason)
    else:
        logging.info("This run trains: %s", reason)


class ServingDriver(base_driver.BaseDriver, portable_driver.BaseDriver):
    """Local runs only (LocalDagRunner runs a component's DRIVER_CLASS before its cache check;
    KubeflowV2DagRunner compiles none for this step): adds which version serves now to the
    execution properties, so a cached lookup is reused only while that version serves."""

    def run(self, execution_info):
        folder, where = locate(execution_info.exec_properties)
        result = driver_output_pb2.DriverOutput()
        data_types_utils.set_metadata_value(result.exec_properties[SERVING_NOW_KEY],
                                            folder.rstrip("/") if folder else f"none: {where}")
        return result


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        model = artifact_utils.get_single_instance(output_dict[keys.MODEL_KEY])
        schema = artifact_utils.get_single_instance(output_dict[keys.SCHEMA_KEY])
        examples = artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY])
        folder, where = locate(exec_properties)
        mark_training(model, examples, folder and folder.rstrip("/"), exec_properties)
        if folder is None:
            logging.info("Nothing is serving (%s): the Evaluator applies the absolute thresholds "
                         "only, and the span-drift check has no baseline schema.", where)
            mark_not_served(model, where)
            mark_not_served(schema, where)
            return
        folder = folder.rstrip("/")
        io_utils.copy_dir(folder, path_utils.serving_model_dir(model.uri),
                          deny_regex_patterns=[
                              "^" + re.escape(os.path.join(folder, keys.ASSETS_EXTRA_DIR)) + "(/|$)"])
        mark_served(model, folder)
        logging.info("Baseline model: %s (%s)", folder, where)
        shipped = os.path.join(folder, keys.ASSETS_EXTRA_DIR, keys.SCHEMA_FILE)
        if fileio.exists(shipped):
            fileio.makedirs(schema.uri)
            fileio.copy(shipped, os.path.join(schema.uri, keys.SCHEMA_FILE), overwrite=True)
            mark_served(schema, shipped)
        else:
            reason = (f"the serving version {folder} carries no {keys.ASSETS_EXTRA_DIR}/"
                      f"{keys.SCHEMA_FILE} (pushed before versions shipped their training schema)")
            logging.warning("No baseline schema for the span-drift check: %s", reason)
            mark_not_served(schema, reason)


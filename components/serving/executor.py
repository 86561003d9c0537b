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

The executor is referenced by its import path, as Kubeflow / Vertex containers load it.
"""
import os
import re

from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from .. import keys
from . import versions

SERVING_DIRECTORY_KEY = "serving_directory"
VERTEX_PROJECT_KEY = "vertex_project"
VERTEX_REGION_KEY = "vertex_region"
VERTEX_ENDPOINT_KEY = "vertex_endpoint"


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


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        model = artifact_utils.get_single_instance(output_dict[keys.MODEL_KEY])
        schema = artifact_utils.get_single_instance(output_dict[keys.SCHEMA_KEY])
        folder, where = locate(exec_properties)
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


"""The filesystem Pusher, keeping the SavedModels nested inside the pushed one.

TFX's Pusher copies the model with every file named saved_model.pb held back, then copies the
top-level one last (so TF Serving never loads a half-written version). The held-back nested
ones are never copied: the backbone exported in TF Hub format under assets.extra/backbone
(models/export/saved_model.py) arrived without its saved_model.pb, and a warm start from the
pushed version had no backbone to load. This executor copies them after the stock push.
"""
import os

from absl import logging
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as specs

from ...core import keys

SAVED_MODEL_PB = keys.SAVED_MODEL_PB


def nested_saved_models(model_path):
    """Relative paths of the saved_model.pb files below model_path, the top-level one excepted."""
    found = []
    for folder, _, files in fileio.walk(model_path):
        relative = os.path.relpath(folder, model_path)
        if relative != "." and SAVED_MODEL_PB in files:
            found.append(os.path.join(relative, SAVED_MODEL_PB))
    return sorted(found)


class Executor(tfx_pusher.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        super().Do(input_dict, output_dict, exec_properties)
        pushed = artifact_utils.get_single_instance(output_dict[specs.PUSHED_MODEL_KEY])
        if not pushed.get_int_custom_property("pushed"):
            return
        model_path = self.GetModelPath(input_dict)
        destination = pushed.get_string_custom_property("pushed_destination")
        for relative in nested_saved_models(model_path):
            target = os.path.join(destination, relative)
            if not fileio.exists(target):
                fileio.copy(os.path.join(model_path, relative), target)
                logging.info("Pushed the nested SavedModel %s", target)

"""ModelCardGen's executor: the trained model, copied, with its model card, the schema of
its training data and what data that was (training_data.json) in assets.extra/.

The facts come from facts.model_facts, the function the evaluation report uses too, so
the card and the report state the same numbers. The output keeps the Trainer's Model layout
(`<uri>/Format-Serving/`, tfx.utils.path_utils), so the stock Pusher pushes it unchanged.
"""
import json
import os

import tensorflow as tf
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from ...core import keys
from ..serving import training_data
from . import card
from . import facts as model_facts

TRAINED_MODEL_KEY = "trained_model"
TRAINING_KEY = "training"  # JSON: the Trainer's custom_config (model spec, what was frozen, precision)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)

        def single(key):
            return artifact_utils.get_single_instance(input_dict[key])

        trained = single(TRAINED_MODEL_KEY)
        facts = model_facts.model_facts(
            examples=single(keys.EXAMPLES_KEY), statistics=single(keys.STATISTICS_KEY),
            hyperparameters=single(keys.HYPERPARAMETERS_KEY), model=trained,
            evaluation=single(keys.EVALUATION_KEY), blessing=single(keys.BLESSING_KEY),
            input_base=exec_properties[keys.INPUT_BASE_KEY],
            training=json.loads(exec_properties[TRAINING_KEY]))
        markdown = card.render_markdown(facts)
        out = artifact_utils.get_single_instance(output_dict[keys.MODEL_KEY])
        serving_dir = path_utils.serving_model_dir(out.uri)
        io_utils.copy_dir(path_utils.serving_model_path(trained.uri, path_utils.is_old_model_artifact(trained)),
                          serving_dir)
        card_dir = os.path.join(serving_dir, card.CARD_DIR)
        tf.io.gfile.makedirs(card_dir)
        for name, text in ((card.CARD_MARKDOWN, markdown), (card.CARD_HTML, card.render_html(markdown))):
            with tf.io.gfile.GFile(os.path.join(card_dir, name), "w") as f:
                f.write(text)
        logging.info("Model card written to %s", os.path.join(card_dir, card.CARD_MARKDOWN))
        schema_uri = artifact_utils.get_single_uri(input_dict[keys.SCHEMA_KEY])
        shipped = os.path.join(card_dir, keys.SCHEMA_FILE)
        tf.io.gfile.copy(os.path.join(schema_uri, keys.SCHEMA_FILE), shipped, overwrite=True)
        logging.info("Training schema shipped as %s", shipped)
        # What data this model was trained on: a later run on the same data, with this version
        # serving, trains nothing (ServingBaseline reads it back, serving/training_data.py).
        record = os.path.join(card_dir, keys.TRAINING_DATA_FILE)
        with tf.io.gfile.GFile(record, "w") as f:
            f.write(training_data.dumps(training_data.record_of(
                single(keys.EXAMPLES_KEY), exec_properties[keys.INPUT_BASE_KEY])))
        logging.info("Training data recorded in %s", record)

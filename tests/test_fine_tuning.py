"""Fine-tuning control beyond the HyperRule: freezing a native backbone through a named block
(big_transfer#53), checked from the flag to the weights a real optimiser step moves."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from bit_tfx.core import keys
from bit_tfx.models.bit import build_classifier, resnet_v2
from bit_tfx.core.errors import ConfigError
from bit_tfx.models.training.config import TrainerConfig
from bit_tfx.pipeline import configs, pipeline


def test_backbone_blocks_are_the_native_model_s_layer_prefixes_in_order():
    model = resnet_v2.build("tiny")
    prefixes = []
    for layer in model.layers:
        prefix = layer.name.split("/")[0]
        if prefix.startswith(("root_block", "block")) and prefix not in prefixes:
            prefixes.append(prefix)
    assert tuple(prefixes) == keys.BACKBONE_BLOCKS


def test_freeze_until_block2_moves_only_block3_on_after_a_real_step():
    model = build_classifier("random:tiny", 3, freeze_until="block2")
    assert model.bit_freeze_until == "block2"
    trainable = {v.name for v in model.trainable_variables}
    frozen = {v.name for v in model.variables} - trainable
    def block(name):
        return name.split("/")[0]
    assert {block(n) for n in frozen} == {"root_block", "block1", "block2"}
    assert {"block3", "block4", "head"} <= {block(n) for n in trainable}
    before = {v.name: v.numpy().copy() for v in model.variables}
    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 3)).astype(np.float32)
    labels = tf.constant([0, 1, 2, 0])
    optimizer = keras.optimizers.SGD(0.1)
    for _ in range(2):  # the head starts at zero: the second step reaches the backbone
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, model(images, training=True), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
    moved = {v.name for v in model.variables if not np.array_equal(v.numpy(), before[v.name])}
    assert not moved & frozen
    assert {"block3", "block4", "head"} <= {block(n) for n in moved}


@pytest.mark.parametrize("overrides, message", [
    (dict(freeze_until="block9", model_spec="random:tiny"), "'block9' is not a backbone block"),
    (dict(freeze_until="block2", model_spec="random:tiny", linear_probe=True),
     "--freeze-until and --linear-probe both freeze"),
    (dict(freeze_until="block2"), "--freeze-until needs a native backbone"),
])
def test_bad_freeze_until_is_a_configuration_error_before_any_work(overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        configs.RunConfig(data=str(tmp_path), output=str(tmp_path / "out"), **overrides).validate()
    with pytest.raises(ConfigError, match=message):
        TrainerConfig.from_custom_config({"model_spec": configs.DEFAULT_MODEL_SPEC, **overrides})


def test_freeze_until_reaches_the_trainer_s_custom_config(tmp_path):
    config = configs.RunConfig(data=str(tmp_path), output=str(tmp_path / "out"),
                               model_spec="random:tiny", freeze_until="block3").validate()
    custom = pipeline.trainer_custom_config(config)
    assert custom["freeze_until"] == "block3" and custom["linear_probe"] is False
    assert TrainerConfig.from_custom_config(custom).freeze_until == "block3"

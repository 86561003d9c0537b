"""TF Hub export/reload of native BiTs, and the classifier builder over every source.

No machine here reaches tfhub.dev or Cloud Storage: the hub modules are SavedModels these
tests export themselves in the TF Hub layout."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as tfhub

from bit_tfx.models.bit import factory, hub, resnet_v2, weights
from test_bit_model_resnet import random_official_arrays

U = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)  # [0, 1] images


@pytest.fixture(scope="module")
def tiny_classifier():
    """Native tiny model with every weight random, non-zero head (5 logits)."""
    model = resnet_v2.build("tiny", num_classes=5)
    weights.load_npz(model, random_official_arrays(model, seed=11))
    return model


@pytest.fixture(scope="module")
def features_export(tmp_path_factory, tiny_classifier):
    """The same weights as a feature-vector module (head left out, explicitly)."""
    feats = resnet_v2.build("tiny")
    weights.load_npz(feats, weights.model_arrays(tiny_classifier), skip_head=True)
    out = str(tmp_path_factory.mktemp("hub") / "tiny_features")
    hub.export_hub_savedmodel(feats, out)
    return feats, out


def test_export_reload_identical_logits(tiny_classifier, tmp_path):
    out = hub.export_hub_savedmodel(tiny_classifier, str(tmp_path / "logits"))
    layer = tfhub.KerasLayer(out, trainable=True)
    got, want = layer(U).numpy(), tiny_classifier(U * 2 - 1).numpy()
    diff = float(np.abs(got - want).max())
    print(f"hub logits max |diff| = {diff:.3g}")
    assert np.abs(want).max() > 0.1 and diff < 1e-4


def test_export_reload_features_trainable_with_gradients(features_export):
    feats, out = features_export
    layer = hub.load_backbone(out)                       # trainable=True by default
    diff = float(np.abs(layer(U).numpy() - feats(U * 2 - 1).numpy()).max())
    print(f"hub features max |diff| = {diff:.3g}")
    assert diff < 1e-4
    assert len(layer.trainable_weights) == len(feats.trainable_weights) == 43
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(U, training=True)))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(g is not None for g in grads)
    assert sum(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads) >= 40


def test_classifier_over_hub_module_trains_the_backbone(features_export):
    _, out = features_export
    model = factory.build_classifier(f"hub:{out}", num_classes=3)
    np.testing.assert_array_equal(model(U).numpy(), 0.0)  # zero head
    probs = tf.nn.softmax(model(U)).numpy()
    np.testing.assert_allclose(probs, 1 / 3, atol=1e-7)
    assert len(model.trainable_weights) == 43 + 2
    head = model.get_layer(resnet_v2.HEAD_NAME)
    head.kernel.assign(tf.random.normal(head.kernel.shape))  # as after a first step
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(U, training=True)))
    grads = tape.gradient(loss, model.trainable_weights)
    backbone = [g for g, v in zip(grads, model.trainable_weights) if "head/" not in v.name]
    assert len(backbone) == 43 and all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in backbone)
    probe = factory.build_classifier(f"hub:{out}", num_classes=3, linear_probe=True)
    assert len(probe.trainable_weights) == 2


@pytest.mark.parametrize("linear_probe", [False, True])
def test_classifier_from_npz_file_head_skipped_and_scaling_inside(tiny_classifier, tmp_path,
                                                                   linear_probe):
    path = weights.save_npz(tiny_classifier, str(tmp_path / "my_tiny.npz"))  # has a 5-way head
    model = factory.build_classifier(f"npz:{path}", num_classes=4, linear_probe=linear_probe)
    assert model.bit_arch.name == "tiny"                 # inferred from the array shapes
    np.testing.assert_allclose(tf.nn.softmax(model(U)).numpy(), 0.25, atol=1e-7)
    backbone = model.get_layer(factory.BACKBONE_NAME)
    np.testing.assert_allclose(backbone(U * 2 - 1).numpy(),
                               _pre_logits(tiny_classifier, U * 2 - 1), atol=1e-5)
    assert len(model.trainable_weights) == (2 if linear_probe else 43 + 2)
    explicit = factory.build_classifier(f"npz:tiny:{path}", num_classes=4)
    assert explicit.bit_spec == f"npz:tiny:{path}"


def _pre_logits(model, x):
    import tf_keras as keras
    return keras.Model(model.input, model.get_layer("pre_logits").output)(x).numpy()


def test_classifier_from_random_spec_and_wrong_arch_refused(tmp_path, tiny_classifier):
    model = factory.build_classifier("random:tiny", num_classes=10)
    np.testing.assert_allclose(tf.nn.softmax(model(U)).numpy(), 0.1, atol=1e-7)
    assert model.bit_spec == "random:tiny"
    path = weights.save_npz(tiny_classifier, str(tmp_path / "w.npz"))
    with pytest.raises(weights.WeightsMismatchError, match="mis-shaped"):
        factory.build_classifier(f"npz:small:{path}", num_classes=2)
    with pytest.raises(factory.ConfigError):
        factory.build_classifier("random:tiny", num_classes=0)


def test_missing_hub_dir_is_a_config_error_and_cache_env_untouched(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub_cache"))
    with pytest.raises(hub.HubError, match="cannot load TF Hub module"):
        factory.build_classifier(f"hub:{tmp_path / 'no_such_module'}", num_classes=2)
    import os
    assert os.environ["TFHUB_CACHE_DIR"] == str(tmp_path / "hub_cache")


@pytest.mark.slow
def test_bench_gpu_mode_dry_run_on_cpu():
    """The --gpu benchmark's code path (mixed bf16/fp16 + loss scaling + XLA), tiny size."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, os.path.join(root, "bench", "model_speed.py"),
                          "--gpu", "--dry-run"], capture_output=True, text=True, check=True)
    for precision in ("| float32 |", "| mixed_bfloat16 |", "| mixed_float16 |"):
        assert precision in out.stdout


def test_a_pushed_version_without_its_backbone_is_refused_not_loaded_as_a_backbone(tmp_path):
    """Loading the whole classifier in its place would warm-start from the old logits."""
    version = tmp_path / "serving" / "1700000000"
    (version / hub.WARM_START_DIR / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    with pytest.raises(hub.HubError, match="no saved_model.pb"):
        hub.warm_start_location(str(version))
    assert hub.warm_start_location(str(tmp_path / "plain_hub_module")) == str(tmp_path / "plain_hub_module")

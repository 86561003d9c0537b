"""The Trainer's pieces: learning rate, augmentations, distribution agreement."""
import dataclasses
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from bit_tfx.core import rule
from bit_tfx.models.training import augment
from bit_tfx.models.training.schedule import HyperRuleSchedule


@pytest.mark.parametrize("dataset_size", [1000, 50_000, 1_000_000])
def test_learning_rate_equals_the_rule_at_every_step(dataset_size):
    decision = rule.decide(dataset_size, 10, 224 * 224, batch_size=128, batch_policy="scale_lr")
    schedule = HyperRuleSchedule.from_decision(decision)
    steps = np.arange(decision.total_steps)
    got = schedule(tf.constant(steps)).numpy()
    want = [rule.learning_rate(int(s), decision.learning_rate, decision.warmup_steps,
                               decision.decay_boundaries, decision.total_steps) for s in steps]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    assert got[0] == 0.0


def test_random_flip_is_random_with_p_one_half():
    images = tf.tile(tf.reshape(tf.range(8, dtype=tf.float32), [1, 1, 8, 1]), [4000, 8, 1, 3])
    out = augment.crop_and_flip(images, 8, random_crop=False, random_flip=True,
                                seed=tf.constant([1, 2], tf.int64)).numpy()
    flipped = out[:, 0, 0, 0] == 7.0
    assert 0.45 < flipped.mean() < 0.55  # not the official TF2 always-flip bug
    assert np.array_equal(out[~flipped], images.numpy()[~flipped])


def test_no_flip_and_random_crop_keep_orientation_and_size():
    images = tf.random.stateless_uniform([16, 160, 160, 3], [0, 1])
    out = augment.crop_and_flip(images, 128, random_crop=True, random_flip=False,
                                seed=tf.constant([3, 4], tf.int64))
    assert out.shape == (16, 128, 128, 3)
    # Each output is a window of its own input (no flip, no resize).
    img, crop = images[0].numpy(), out[0].numpy()
    found = any(np.array_equal(img[y:y + 128, x:x + 128], crop) for y in range(33) for x in range(33))
    assert found


def test_mixup_mixes_images_and_labels_with_one_lambda():
    x = tf.constant([[1.0], [0.0]])
    y = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    mixed, labels = augment.mixup(x, y, tf.constant(0.7))
    np.testing.assert_allclose(mixed.numpy(), [[0.7], [0.3]], rtol=1e-6)
    np.testing.assert_allclose(labels.numpy(), [[0.7, 0.3], [0.3, 0.7]], rtol=1e-6)
    assert augment.sample_mixup_lambda(0.0, tf.constant([1, 1], tf.int64)).numpy() == 1.0
    lams = [augment.sample_mixup_lambda(0.1, tf.constant([1, i], tf.int64)).numpy() for i in range(200)]
    assert all(0.0 <= v <= 1.0 for v in lams) and np.mean([min(v, 1 - v) < 0.1 for v in lams]) > 0.5


_AGREEMENT = textwrap.dedent("""
    import dataclasses, json, os, sys
    import numpy as np
    import bit_tfx.components  # before TensorFlow: Keras 2
    import tensorflow as tf
    if sys.argv[1] == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from bit_tfx.models.bit import build_classifier
    from bit_tfx.core import rule
    from bit_tfx.models.training import distribution, run
    strategy = distribution.choose_strategy()
    decision = rule.decide(1000, 3, 32 * 32, batch_size=4, batch_policy="accumulate",
                           schedule_override={"warmup": 1, "boundaries": [2], "total": 4})
    decision = dataclasses.replace(decision, effective_batch_size=8, gradient_accumulation_steps=2)
    config = run.TrainerConfig(model_spec="random:tiny")
    tf.keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_classifier("random:tiny", 3)
        trainer = run.Trainer(strategy, model, decision, config, 3)
    rng = np.random.default_rng(0)
    images = rng.random((8, 32, 32, 3), np.float32); labels = rng.integers(0, 3, 8)

    def replica_batches(ctx):
        # Replica j always gets examples [j*per, (j+1)*per) of the same global batch of 8,
        # so every strategy computes the same effective-batch gradient.
        per = 8 // ctx.num_replicas_in_sync
        local = ctx.num_replicas_in_sync // ctx.num_input_pipelines
        first = ctx.input_pipeline_id * local
        parts = [(images[j * per:(j + 1) * per], labels[j * per:(j + 1) * per])
                 for j in range(first, first + local)]
        ds = tf.data.Dataset.from_tensor_slices(
            (np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])))
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.repeat(3).with_options(options)

    for x, y in strategy.distribute_datasets_from_function(replica_batches):
        trainer.step(x, y)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "weights": [float(np.sum(w)) for w in model.get_weights()]}))
""")


def _env(**extra):
    return dict(os.environ, **extra)


def _result(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def _train(mode):
    out = subprocess.run([sys.executable, "-c", _AGREEMENT, mode], capture_output=True, text=True, env=_env())
    assert out.returncode == 0, out.stderr[-3000:]
    return _result(out.stdout)


@pytest.fixture(scope="module")
def single_device():
    return _train("single")


def test_mirrored_over_two_logical_cpus_agrees_with_one_device(single_device):
    mirrored = _train("mirrored")
    assert (single_device["replicas"], mirrored["replicas"]) == (1, 2)
    np.testing.assert_allclose(mirrored["weights"], single_device["weights"], rtol=1e-4, atol=1e-5)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow  # two worker processes, ~1.5 minutes: CI runs it (.ci/run's slow line)
def test_multi_worker_on_loopback_agrees_with_one_device(single_device):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, "-c", _AGREEMENT, "worker"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=_env(TF_CONFIG=tf_config)))
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    results = [_result(out) for out, _ in outputs]
    assert [r["replicas"] for r in results] == [2, 2]
    for r in results:
        np.testing.assert_allclose(r["weights"], single_device["weights"], rtol=1e-4, atol=1e-5)


def test_k_shot_choice_is_k_per_class_and_independent_of_order():
    from bit_tfx.models.training import kshot
    pairs = [(f"{label}/{i}.jpg", label) for label in ("a", "b", "c") for i in range(50)]
    chosen = kshot.select(pairs, 5)
    assert len(chosen) == 15 and all(sum(f.startswith(f"{c}/") for f in chosen) == 5 for c in "abc")
    assert kshot.select(reversed(pairs), 5) == chosen
    with pytest.raises(ValueError, match="fewer training examples"):
        kshot.select(pairs[:52], 5)  # class b has 2


_MIXED = textwrap.dedent("""
    import dataclasses
    import sys
    import numpy as np
    import bit_tfx.components  # before TensorFlow: Keras 2
    import tensorflow as tf
    import tf_keras as keras
    keras.mixed_precision.set_global_policy("mixed_" + sys.argv[1])
    from bit_tfx.models.bit import build_classifier
    from bit_tfx.core import rule
    from bit_tfx.models.training import run
    decision = rule.decide(1000, 3, 32 * 32, batch_size=4, batch_policy="accumulate",
                           schedule_override={"warmup": 1, "boundaries": [2], "total": 4})
    decision = dataclasses.replace(decision, effective_batch_size=8, gradient_accumulation_steps=2)
    model = build_classifier("random:tiny", 3)
    trainer = run.Trainer(tf.distribute.get_strategy(), model, decision,
                           run.TrainerConfig(model_spec="random:tiny", mixed_precision=sys.argv[1]), 3)
    x = tf.constant(np.random.default_rng(0).random((8, 32, 32, 3), np.float32))
    losses = [float(trainer.step(x, tf.constant([0, 1, 2, 0, 1, 2, 0, 1]))[0]) for _ in range(3)]
    assert model.output.dtype == tf.float32 and all(np.isfinite(losses)), losses
    print("ok", losses)
""")


@pytest.mark.parametrize("mode", ["bfloat16", pytest.param("float16", marks=pytest.mark.slow)])  # CI: both
def test_mixed_precision_trains_with_a_float32_head(mode):
    out = subprocess.run([sys.executable, "-c", _MIXED, mode], capture_output=True, text=True, env=_env())
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-3000:]


def test_trainer_config_reads_ours_ignores_the_vertex_extension_keys_and_refuses_typos():
    from tfx.extensions.google_cloud_ai_platform import constants
    from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer
    from bit_tfx.models.training.config import TrainerConfig
    # What the Vertex AI Trainer extension forwards to run_fn inside the training job.
    config = TrainerConfig.from_custom_config({
        "model_spec": "random:tiny", "checkpoint_every": 7,
        constants.ENABLE_VERTEX_KEY: True, constants.VERTEX_REGION_KEY: "europe-west4",
        vertex_trainer.TRAINING_ARGS_KEY: {"project": "p", "worker_pool_specs": []}})
    assert config.model_spec == "random:tiny" and config.checkpoint_every == 7
    with pytest.raises(ValueError, match="checkpoint_evry"):
        TrainerConfig.from_custom_config({"model_spec": "random:tiny", "checkpoint_evry": 7})


def _counter_checkpoint():
    step = tf.Variable(0, dtype=tf.int64)
    weights = tf.Variable(tf.zeros([64, 64]))
    return tf.train.Checkpoint(step=step, weights=weights), step, weights


def _save_steps(directory, steps):
    from bit_tfx.models.training import checkpoints
    checkpoint, step, weights = _counter_checkpoint()
    manager = checkpoints.manager(checkpoint, directory, None)
    for n in steps:
        step.assign(n)
        weights.assign(tf.fill([64, 64], float(n)))
        manager.save(checkpoint_number=n)


def test_resume_takes_a_complete_checkpoint_the_state_file_missed(tmp_path):
    """Killed after ckpt-10's files but before the `checkpoint` state file named it."""
    from bit_tfx.models.training import checkpoints
    directory = str(tmp_path / "ckpt")
    _save_steps(directory, [5])
    state = open(os.path.join(directory, "checkpoint")).read()
    _save_steps(directory, [10])
    open(os.path.join(directory, "checkpoint"), "w").write(state)  # as if killed before the update
    checkpoint, step, weights = _counter_checkpoint()
    assert checkpoints.restore_latest(checkpoint, directory).endswith("ckpt-10")
    assert int(step.numpy()) == 10 and float(weights.numpy()[0, 0]) == 10.0
    # The manager then knows ckpt-10, so keeping two deletes ckpt-5 after the next save.
    manager = checkpoints.manager(checkpoint, directory, os.path.join(directory, "ckpt-10"))
    manager.save(checkpoint_number=15)
    manager.save(checkpoint_number=20)
    assert sorted(p for p in os.listdir(directory) if p.endswith(".index")) == ["ckpt-15.index",
                                                                               "ckpt-20.index"]


def test_resume_skips_a_checkpoint_cut_off_while_being_written(tmp_path):
    from bit_tfx.models.training import checkpoints
    directory = str(tmp_path / "ckpt")
    _save_steps(directory, [5, 10])
    data = [p for p in os.listdir(directory) if p.startswith("ckpt-10.data")][0]
    path = os.path.join(directory, data)
    with open(path, "r+b") as f:  # killed mid-write: the tail of the data is missing
        f.truncate(os.path.getsize(path) // 2)
    os.rename(os.path.join(directory, "checkpoint"), os.path.join(directory, "state-was-not-written"))
    checkpoint, step, weights = _counter_checkpoint()
    assert checkpoints.restore_latest(checkpoint, directory).endswith("ckpt-5")
    assert int(step.numpy()) == 5 and float(weights.numpy()[-1, -1]) == 5.0
    assert checkpoints.restore_latest(_counter_checkpoint()[0], str(tmp_path / "none")) is None


def test_a_vocabulary_short_of_the_counted_classes_stops_training():
    from bit_tfx.models.training import run
    decision = rule.decide(30, 3, 40 * 50)  # the statistics counted 3 labels
    with pytest.raises(ValueError, match="vocabulary has 2 classes.*count 3 classes.*line break"):
        run.check_vocabulary([b"a", b"b"], decision)
    run.check_vocabulary([b"a", b"b", b"c"], decision)


def test_inception_crop_takes_boxes_within_the_area_and_aspect_ranges():
    # A horizontal ramp: a crop's mean value tells where its box lay, its spread how wide it was.
    ramp = tf.tile(tf.linspace(0.0, 1.0, 200)[None, None, :, None], [64, 200, 1, 3])
    crops = augment.inception_crop(ramp, 32, (0.08, 1.0), (3 / 4, 4 / 3), tf.constant([1, 2], tf.int64))
    assert crops.shape == (64, 32, 32, 3)
    spans = (tf.reduce_max(crops, [1, 2, 3]) - tf.reduce_min(crops, [1, 2, 3])).numpy()
    # a box is at least sqrt(0.08 * 3/4) = 0.24 and at most 1 of the width wide
    assert spans.min() > 0.2 and spans.max() <= 1.0 and spans.std() > 0.1, spans
    again = augment.inception_crop(ramp, 32, (0.08, 1.0), (3 / 4, 4 / 3), tf.constant([1, 2], tf.int64))
    assert np.array_equal(crops.numpy(), again.numpy())  # stateless: the same seed, the same crops
    full = augment.inception_crop(ramp, 32, (1.0, 1.0), (1.0, 1.0), tf.constant([3, 4], tf.int64))
    assert np.allclose(full.numpy(), tf.image.resize(ramp, [32, 32]).numpy(), atol=0.02)


def test_upstream_weight_decay_shrinks_kernels_not_group_norm():
    from bit_tfx.models.bit import build_classifier
    from bit_tfx.core import upstream
    from bit_tfx.models.training import run
    decision = upstream.decide(100, 3, batch_size=4, batch_policy="scale_lr",
                               overrides={"epochs": 2, "decay_epochs": [1]})
    decision = dataclasses.replace(decision, learning_rate=1.0, warmup_steps=0, weight_decay=0.1)
    model = build_classifier("random:tiny", 3)
    for v in model.trainable_variables:
        v.assign(tf.ones_like(v))
    trainer = run.Trainer(tf.distribute.get_strategy(), model, decision,
                           run.TrainerConfig(model_spec="random:tiny"), 3)
    # Zero images: no data gradient reaches the root kernel, so only the decay moves it.
    trainer._replica_step(tf.zeros([4, 32, 32, 3]), tf.constant([0, 1, 2, 0]), 0)
    kernel = next(v for v in model.trainable_variables if "root_block" in v.name)
    gamma = next(v for v in model.trainable_variables if v.name.endswith("gamma:0"))
    assert np.allclose(kernel.numpy(), 0.9, atol=1e-3)  # w - lr * wd * w
    assert np.allclose(gamma.numpy(), 1.0)


def test_class_weights_scale_each_example_s_loss_by_its_class():
    from bit_tfx.models.bit import build_classifier
    from bit_tfx.models.training import run
    decision = rule.decide(100, 3, 32 * 32, batch_size=4, batch_policy="scale_lr",
                           class_counts={"a": 60, "b": 30, "c": 10})
    names = [b"c", b"a", b"b"]  # the vocabulary's order, not the decision's
    weights = run.class_weight_vector(decision, names).numpy()
    assert np.allclose(weights, [100 / 30, 100 / 180, 100 / 90])
    images, labels = tf.random.stateless_uniform([4, 32, 32, 3], [1, 2]), tf.constant([0, 1, 2, 0])
    losses = {}
    for weighted in (False, True):
        tf.keras.utils.set_random_seed(0)
        model = build_classifier("random:tiny", 3)
        d = decision if weighted else dataclasses.replace(decision, class_weights=None)
        trainer = run.Trainer(tf.distribute.get_strategy(), model, d,
                               run.TrainerConfig(model_spec="random:tiny"), 3, names)
        losses[weighted] = float(trainer._replica_step(images, labels, 0)[0])
    # A zero head predicts uniformly: every example's loss is ln 3, so the weighted loss is
    # ln 3 times the mean weight of these four labels.
    assert losses[False] == pytest.approx(np.log(3), rel=1e-5)
    assert losses[True] == pytest.approx(np.log(3) * np.mean(weights[[0, 1, 2, 0]]), rel=1e-5)
    with pytest.raises(ValueError, match="no weight for"):
        run.class_weight_vector(decision, [b"a", b"b", b"zebra"])


def test_training_views_cached_or_not_are_the_same_examples_each_epoch(pushed_run):
    """The Trainer's input pipeline decodes and resizes once and keeps the views in memory when
    they fit (run.TRAIN_CACHE_MAX_BYTES), else reads them again every epoch: both give every
    training example once per epoch (cached: a whole-dataset shuffle), with the same pixels."""
    import glob
    import hashlib

    import runs
    import tensorflow_transform as tft
    from tfx_bsl.tfxio import tf_example_record
    from bit_tfx.core import keys
    from bit_tfx.core.decision import read_decision
    from bit_tfx.models.training import run

    class Accessor:   # the one DataAccessor method train_dataset uses, over TFXIO as TFX builds it
        def tf_dataset_factory(self, files, options, schema):
            return tf_example_record.TFExampleRecord(
                file_pattern=files, schema=schema, telemetry_descriptors=["test"]).TensorFlowDataset(options)

    config, _, _ = pushed_run
    decision = read_decision(runs.latest(config, keys.NODE_HYPERRULE, keys.HYPERPARAMETERS_KEY)[1].uri)
    tft_output = tft.TFTransformOutput(runs.latest(config, keys.NODE_TRANSFORM, keys.TRANSFORM_GRAPH_KEY)[1].uri)
    files = glob.glob(f"{runs.latest(config, keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY)[1].uri}/Split-train/*.gz")
    # no random crop or flip: the batches hold the decoded views themselves, comparable
    decision = dataclasses.replace(decision, random_crop=False, random_flip=False)
    examples = int(decision.inputs["dataset_size"])
    assert 0 < run.cache_bytes(decision) <= run.TRAIN_CACHE_MAX_BYTES
    batch = 4
    per_epoch = examples // batch

    def pixels(limit, batches):
        data = run.train_dataset(files, Accessor(), tft_output, batch, decision, seed=0,
                                 cache_max_bytes=limit)
        out = []
        for images, labels in data.take(batches):
            assert images.shape[1:] == (decision.crop_size, decision.crop_size, 3)
            out += [(int(label), hashlib.sha256(image.tobytes()).hexdigest())
                    for image, label in zip(images.numpy(), labels.numpy().reshape(-1))]
        return out

    cached = pixels(None, 3 * per_epoch)
    assert len(set(cached[:per_epoch * batch])) == per_epoch * batch   # an epoch: no repeats
    assert len(set(cached)) == examples                               # every example comes
    streamed = pixels(0, per_epoch)
    assert set(streamed) <= set(cached)   # the same pixels and labels, decoded every epoch

"""The Trainer's run_fn: fine-tunes BiT exactly by the HyperRule decision.

SGD with momentum 0.9, the HyperRule learning rate (linear warmup from 0, x0.1 after
each boundary, stop at the total), MixUp with the rule's alpha, random crop and flip as
the rule says, softmax cross-entropy, no weight decay. A decision of the upstream recipe
(`bit-tfx pretrain`, core/upstream.py) trains the same way with its own schedule, the
Inception-style random resized crop and weight decay 1e-4 on the kernels. A global batch below 512 either
accumulates gradients to 512 (exact: BiT has no batch statistics) or uses the linearly
scaled learning rate, as recorded in the HyperParameters artifact.

Each optimiser step takes one batch of `batch_size * gradient_accumulation_steps`
examples, splits it into micro-batches inside the replica, sums their gradients and
applies them once, so every distribution strategy sees the same arithmetic.

Checkpoints every checkpoint_every steps, resume from the newest complete one
(checkpoints.py), and, on SIGTERM, a checkpoint of the step reached before stopping with
exit code 143 (preemption.py).

custom_config keys (set by the pipeline; see models/training/config.py TrainerConfig):
  model_spec, linear_probe, freeze_until, mixed_precision, checkpoint_every, log_every,
  max_image_pixels (the pushed model's serving pixel limit).
"""
import dataclasses
import hashlib
import json
import logging
import os
import time

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx_bsl.public import tfxio

from ...core import keys
from ..bit import build_classifier
from ...core import rule, upstream
from ...core.decision import Decision
from ..export import saved_model as export
from . import augment, checkpoints, distribution, kshot, preemption, probe
from .config import TrainerConfig
from .schedule import HyperRuleSchedule

log = logging.getLogger("bit_tfx.trainer")


def _k_shot_files(file_pattern, k):
    """One pass over file names and labels only; returns the k-per-class choice."""
    def names_and_labels(record):
        parsed = tf.io.parse_single_example(record, {
            keys.FILENAME: tf.io.FixedLenFeature([], tf.string),
            keys.LABEL_TEXT: tf.io.FixedLenFeature([], tf.string)})
        return parsed[keys.FILENAME], parsed[keys.LABEL_TEXT]
    files = tf.io.gfile.glob(file_pattern) if isinstance(file_pattern, str) else \
        [f for p in file_pattern for f in tf.io.gfile.glob(p)]
    records = tf.data.TFRecordDataset(files, compression_type="GZIP").map(names_and_labels)
    return kshot.select(((f.decode(), l.decode()) for f, l in records.as_numpy_iterator()), k)


def _raw_examples(file_pattern, data_accessor, tft_output, batch_size, decision, shuffle_seed=None,
                  num_epochs=None):
    """Batches of raw examples: endless and shuffled (shuffle_seed given), or once in file order.
    In k-shot mode only the k examples per class chosen by kshot.select."""
    k = decision.inputs.get("k_shot")
    endless = num_epochs is None
    raw = data_accessor.tf_dataset_factory(
        file_pattern, tfxio.TensorFlowDatasetOptions(
            batch_size=1 if k else batch_size, shuffle=shuffle_seed is not None,
            shuffle_seed=shuffle_seed, num_epochs=num_epochs, drop_final_batch=endless),
        tft_output.raw_metadata.schema)
    if k:
        chosen = sorted(_k_shot_files(file_pattern, k))
        table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            chosen, tf.ones([len(chosen)], tf.int64)), default_value=0)
        raw = (raw.unbatch()
               .filter(lambda f: table.lookup(tf.reshape(f[keys.FILENAME], [])) > 0)
               .batch(batch_size, drop_remainder=endless))
    return raw


def probe_dataset(file_pattern, data_accessor, tft_output, decision, batch_size=64):
    """The training examples once, in file order, as evaluation sees them (the Transform
    graph's `image` at the crop size, no augmentation): the linear probe's input (probe.py)."""
    tft_layer = tft_output.transform_features_layer()

    def evaluation_view(features):
        transformed = tft_layer(features)
        return transformed[keys.IMAGE], transformed[keys.LABEL_ID]

    raw = _raw_examples(file_pattern, data_accessor, tft_output, batch_size, decision, num_epochs=1)
    return raw.map(evaluation_view)


# The training views of a dataset are kept in memory, decoded and resized once, when they take
# at most this much (float32): the demo's 889 images at 128 px take 175 MB. Above it every
# epoch decodes and resizes again (a dataset of ImageNet's size would not fit any machine).
TRAIN_CACHE_MAX_BYTES = 1 << 30


def training_view(decision):
    """(Transform output, side in pixels) that the training view is cut from: the resize-size
    `image_train` when the decision crops at random (or Inception-style), else the crop-size
    `image` (the whole image, as evaluation sees it)."""
    if decision.crop == upstream.INCEPTION_CROP or decision.random_crop:
        return keys.IMAGE_TRAIN, int(decision.resize_size)
    return keys.IMAGE, int(decision.crop_size)


def cache_bytes(decision):
    """Bytes the decoded training views take in memory (None when the decision does not say
    how many examples it trains on)."""
    examples = decision.inputs.get("dataset_size")
    if not examples:
        return None
    return int(examples) * training_view(decision)[1] ** 2 * 3 * 4


def train_dataset(file_pattern, data_accessor, tft_output, batch_size, decision, seed, start_step=0,
                  cache_max_bytes=None):
    """Endless batches of (augmented images in [0, 1], label ids), from raw examples.
    In k-shot mode only the k examples per class chosen by kshot.select are used.

    When the decoded views fit `cache_max_bytes` (default TRAIN_CACHE_MAX_BYTES; cache_bytes),
    the examples are read, decoded and resized once, kept in memory and shuffled whole every
    epoch: on 2 cores the per-step decode and resize took a fifth of the demo's training step
    (docs/benchmarks.md). Else every epoch reads them again through the Transform graph, with
    TFXIO's shuffle buffer. Random crop, flip and MixUp are drawn per step either way.

    A run resumed at `start_step` draws a fresh shuffle (seeded by seed and step) and
    numbers its batches from start_step, so it does not replay the batches and
    augmentations of steps it has already taken."""
    shuffle_seed = seed if not start_step else (seed * 1_000_003 + start_step) % 2 ** 31
    tft_layer = tft_output.transform_features_layer()
    view, _ = training_view(decision)
    limit = TRAIN_CACHE_MAX_BYTES if cache_max_bytes is None else cache_max_bytes
    size = cache_bytes(decision)

    def decoded(features):
        transformed = tft_layer(features)
        return transformed[view], transformed[keys.LABEL_ID]

    if size is not None and size <= limit:
        once = _raw_examples(file_pattern, data_accessor, tft_output, batch_size, decision, num_epochs=1)
        batches = (once.map(decoded).unbatch().cache()
                   .shuffle(int(decision.inputs["dataset_size"]), seed=shuffle_seed,
                            reshuffle_each_iteration=True)
                   .repeat().batch(batch_size, drop_remainder=True))
    else:
        raw = _raw_examples(file_pattern, data_accessor, tft_output, batch_size, decision, shuffle_seed)
        batches = raw.map(decoded, num_parallel_calls=tf.data.AUTOTUNE)

    def prepare(index, batch):
        images, labels = batch
        step_seed = tf.stack([tf.cast(seed, tf.int64), index])
        # for_decision cuts from the first view when it crops, else uses the second: the one
        # view decoded here is the one it uses
        return augment.for_decision(images, images, decision, step_seed), labels

    return (batches.enumerate(start=start_step).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def _checkpoint_dir(fn_args, config, decision):
    """Stable across re-runs of the same training (same data, decision and model):
    a Trainer killed at step k and run again resumes from its last checkpoint."""
    key = json.dumps([sorted(fn_args.train_files), fn_args.transform_output, decision.to_json(),
                      dataclasses.asdict(config)], sort_keys=True)
    trainer_root = os.path.dirname(os.path.dirname(fn_args.model_run_dir.rstrip("/")))
    return os.path.join(trainer_root, "checkpoints", hashlib.sha256(key.encode()).hexdigest()[:16])


class Trainer:
    """Model, optimiser and the compiled optimiser step, under one strategy."""

    def __init__(self, strategy, model, decision, config, num_classes, class_names=None):
        """decision: the HyperRule's (or the upstream recipe's) JSON decision; config: a
        TrainerConfig. The one training step of the Trainer, the transfer study and the
        benchmarks (models/transfer_study.py, bench/trainer.py)."""
        self.strategy = strategy
        self.model = model
        self.num_classes = num_classes
        self.accumulation = int(decision.gradient_accumulation_steps)
        self.effective_batch = int(decision.effective_batch_size)
        self.mixup_alpha = float(decision.mixup_alpha)
        # L2 weight decay on the kernels (conv and dense, not GroupNorm's gamma/beta): the
        # upstream recipe's 1e-4; the HyperRule has none (0). Added to the gradient as
        # weight_decay * w, i.e. the gradient of weight_decay / 2 * ||w||^2, split over the
        # replicas because apply_gradients sums their gradients.
        self.weight_decay = float(decision.weight_decay or 0.0)
        # Optional class weights (decision.class_weights, by label name), in the vocabulary's
        # order: each example's loss is scaled by sum(targets * w), which MixUp's soft targets
        # mix as they mix the labels.
        self.class_weights = class_weight_vector(decision, class_names) \
            if decision.class_weights else None
        self.seed = int(decision.seed)
        optimizer = keras.optimizers.SGD(learning_rate=HyperRuleSchedule.from_decision(decision),
                                         momentum=decision.momentum)
        if config.mixed_precision == "float16":
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        self.optimizer = optimizer
        self.loss_scaled = config.mixed_precision == "float16"

    def _replica_step(self, images, labels, step):
        targets = tf.one_hot(labels, self.num_classes)
        if self.mixup_alpha:   # lambda 1 (no MixUp) would give the same batch, at a pass's cost
            lam = augment.sample_mixup_lambda(self.mixup_alpha, tf.stack(
                [tf.cast(self.seed, tf.int64) + 1, tf.cast(step, tf.int64)]))
            images, targets = augment.mixup(images, targets, lam)
        chunks_x = tf.split(images, self.accumulation) if self.accumulation > 1 else [images]
        chunks_y = tf.split(targets, self.accumulation) if self.accumulation > 1 else [targets]
        variables = self.model.trainable_variables
        grads = None   # the first micro-batch's gradients, then sums (no zeros to add to)
        total_loss, correct = 0.0, 0.0
        for x, y in zip(chunks_x, chunks_y):  # unrolled: accumulation is a small constant
            with tf.GradientTape() as tape:
                logits = tf.cast(self.model(x, training=True), tf.float32)
                per_example = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
                if self.class_weights is not None:
                    per_example = per_example * tf.reduce_sum(y * self.class_weights, axis=-1)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.effective_batch)
                scaled = self.optimizer.get_scaled_loss(loss) if self.loss_scaled else loss
            g = tape.gradient(scaled, variables)
            if self.loss_scaled:
                g = self.optimizer.get_unscaled_gradients(g)
            grads = g if grads is None else [a + b for a, b in zip(grads, g)]
            total_loss += loss
            correct += tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(y, -1)), tf.float32))
        if self.weight_decay:
            share = self.weight_decay / self.strategy.num_replicas_in_sync
            grads = [g + share * v if len(v.shape) > 1 else g for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))
        return total_loss, correct

    def stop_agreed(self, requested):
        """Whether any worker was asked to stop (SIGTERM). Under MultiWorkerMirroredStrategy
        the flags are summed over the workers so that all of them save the same step and
        stop together; with one worker it is the local flag."""
        if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return requested
        flag = tf.constant(1.0 if requested else 0.0)
        summed = self.strategy.reduce(tf.distribute.ReduceOp.SUM,
                                      self.strategy.run(lambda: tf.identity(flag)), axis=None)
        return bool(summed.numpy() > 0)

    # autograph=False: no tensor-dependent Python control flow here, and converting every
    # Keras layer's call made the first step (the trace) 22 s instead of 8 on 2 cores.
    @tf.function(autograph=False)
    def step(self, images, labels):
        step = self.optimizer.iterations
        loss, correct = self.strategy.run(self._replica_step, args=(images, labels, step))
        loss = self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
        correct = self.strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None)
        return loss, correct / self.effective_batch


def class_weight_vector(decision, class_names):
    """decision.class_weights ({label: weight}) as a float32 vector in vocabulary order."""
    weights = decision.class_weights
    names = [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in class_names]
    missing = [n for n in names if n not in weights]
    if missing:
        raise ValueError(f"the decision's class_weights have no weight for {missing[:10]}: the "
                         "statistics and the label vocabulary disagree; run the HyperRule again")
    return tf.constant([weights[n] for n in names], tf.float32)


def check_vocabulary(class_names, decision):
    """The label vocabulary must hold every class the HyperRule counted in the statistics.
    tf.Transform's vocabulary leaves out empty labels and labels with a line break; their
    images would train as label -1 (a silently wrong model) and TFMA fail much later."""
    counted = int(decision.inputs["num_classes"])
    if len(class_names) != counted:
        raise ValueError(
            f"the label vocabulary has {len(class_names)} classes, but the statistics count "
            f"{counted} classes (HyperRule num_classes): a label that is empty or holds a line "
            "break (\\n, \\r) is left out of the vocabulary. Fix the labels in the data "
            f"(vocabulary: {[c.decode('utf-8', 'replace') if isinstance(c, bytes) else c for c in class_names][:20]})")


def run_fn(fn_args):
    decision = Decision.from_json(fn_args.hyperparameters, source="the Trainer's hyperparameters input")
    config = TrainerConfig.from_custom_config(fn_args.custom_config)
    if config.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    class_names = tft_output.vocabulary_by_name(keys.LABEL_VOCABULARY)
    check_vocabulary(class_names, decision)
    transformed = export.transformed_image_size(tft_output)
    if transformed != decision.crop_size:  # serving and TFLite take the Transform graph's size
        raise ValueError(f"the Transform graph resizes images to {transformed}, the decision's crop "
                         f"size is {decision.crop_size}: the two inputs come from different runs")
    num_classes = len(class_names)
    strategy = distribution.choose_strategy()
    seed = int(decision.seed)
    keras.utils.set_random_seed(seed)  # the weights a run initialises (random:, the head)
    total = int(decision.total_steps)
    per_step_batch = int(decision.effective_batch_size)
    if per_step_batch % (strategy.num_replicas_in_sync * decision.gradient_accumulation_steps):
        raise ValueError(f"the effective batch {per_step_batch} must divide evenly over "
                         f"{strategy.num_replicas_in_sync} replicas x "
                         f"{decision.gradient_accumulation_steps} accumulation steps")
    with strategy.scope():
        model = build_classifier(config.model_spec, num_classes, linear_probe=config.linear_probe,
                                 freeze_until=config.freeze_until)
        trainer = Trainer(strategy, model, decision, config, num_classes, class_names)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=trainer.optimizer)
    chief = distribution.is_chief(strategy)
    checkpoint_dir = _checkpoint_dir(fn_args, config, decision)
    restored = checkpoints.restore_latest(checkpoint, checkpoint_dir)
    start_step = int(trainer.optimizer.iterations.numpy())
    if restored:
        log.warning("Resuming from %s at step %d", restored, start_step)
    elif decision.head_init == rule.HEAD_LINEAR_PROBE:
        probe_started = time.perf_counter()
        fitted = probe.init_head(model, probe_dataset(fn_args.train_files, fn_args.data_accessor,
                                                      tft_output, decision), num_classes)
        log.info("Head initialised from a linear probe on %d training examples in %.1f s (train "
                 "accuracy %.3f); fine-tuning every layer from there (LP-FT)", fitted["examples"],
                 time.perf_counter() - probe_started, fitted["train_accuracy"])
    # Other workers save only because MultiWorkerMirroredStrategy needs all in a save.
    save_dir = checkpoint_dir if chief else checkpoints.scratch_directory(
        checkpoint_dir, strategy.cluster_resolver.task_id)
    manager = checkpoints.manager(checkpoint, save_dir, restored if chief else None)
    dataset = train_dataset(fn_args.train_files, fn_args.data_accessor, tft_output, per_step_batch,
                            decision, seed, start_step=start_step)
    writer = tf.summary.create_file_writer(os.path.join(fn_args.model_run_dir, "train"))
    schedule = HyperRuleSchedule.from_decision(decision)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    started = time.perf_counter()

    def save(done):
        path = manager.save(checkpoint_number=done)
        if not chief:
            tf.io.gfile.rmtree(save_dir)
        return path

    with preemption.sigterm_watch() as sigterm:
        for step in range(start_step, total):
            images, labels = next(iterator)
            loss, accuracy = trainer.step(images, labels)
            done = step + 1
            if done % config.log_every == 0 or done == total:
                elapsed = time.perf_counter() - started
                rate = (done - start_step) * per_step_batch / elapsed
                eta = (total - done) * per_step_batch / rate
                log.info("step %d/%d  loss %.4f  accuracy %.3f  lr %.2e  %.1f images/s  ETA %.0f s",
                         done, total, float(loss), float(accuracy), float(schedule(step)), rate, eta)
                with writer.as_default(step=done):
                    tf.summary.scalar("loss", loss)
                    tf.summary.scalar("accuracy", accuracy)
                    tf.summary.scalar("learning_rate", schedule(step))
            saved = None
            if done % config.checkpoint_every == 0 or done == total:
                saved = save(done)
            if trainer.stop_agreed(sigterm.requested) and done < total:
                writer.flush()
                saved = saved or save(done)
                log.warning("Preempted: checkpoint %s saved at step %d/%d; a re-run resumes there",
                            saved, done, total)
                raise preemption.Preempted(done, total, saved if chief else checkpoint_dir)
    writer.flush()
    if total > start_step:
        elapsed = time.perf_counter() - started
        log.info("Trained %d steps in %.1f s (%.1f images/s, the first step's tracing included)",
                 total - start_step, elapsed, (total - start_step) * per_step_batch / elapsed)
    # A pre-trained backbone is also pushed as an official-naming .npz; a TF Hub backbone
    # (continued pre-training from hub:) has no native variables to name, only the TF Hub export.
    pretrained = decision.upstream
    backbone_npz = pretrained and not config.model_spec.startswith("hub:")
    if pretrained and not backbone_npz:
        log.warning("Pre-training from a TF Hub module: the backbone is pushed in TF Hub layout "
                    "only (%s), not as an .npz", keys.BACKBONE_DIR)
    export_dir = fn_args.serving_model_dir if chief else \
        os.path.join(fn_args.model_run_dir, f"worker-export-{os.getpid()}")
    # (other workers write a copy nobody reads, as MultiWorkerMirroredStrategy requires)
    export_started = time.perf_counter()
    export.export(model, tft_output, class_names, export_dir,
                  max_pixels=config.max_image_pixels, backbone_npz=backbone_npz)
    log.info("Exported the SavedModel, its TF Hub backbone and TFLite in %.1f s",
             time.perf_counter() - export_started)

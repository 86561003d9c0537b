"""What a pre-trained backbone is worth downstream: k-shot fine-tuning against random init.

For each k (examples per class) and each backbone, a classifier is fine-tuned with the
BiT-HyperRule's decision for that data (rule.decide with k_shot: its resolution, random
crop and flip, MixUp, schedule and learning rate at the batch and batch policy given) by the
Trainer's own optimiser step (models/training/run.py `Trainer`: SGD momentum, gradient
accumulation, MixUp), head start (probe.py) and augmentation (augment.for_decision) and evaluated on one fixed eval set. The pre-trained backbone and the
same architecture from random init get the same budget: the same decision, steps, batches
and seed. The k examples per class are chosen as the Trainer chooses them (kshot.select).

`linear_probe` is the cheap check: the backbone's pre-logits (loaded through the same model
spec path as a run) standardised and fitted by logistic regression; it shows in seconds whether
the weights that arrived carry the features.

What differs from a pipeline run: the images are decoded and resized in memory by the same
function as the Transform graph (models/bit/signatures.decode_and_resize) instead of going through
ExampleGen and Transform, so ten runs fit in one benchmark. bench/transfer.py prints the table;
tests/test_transfer.py checks that transfer does not silently break.
"""
import dataclasses
import hashlib
import os
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..core import keys
from ..core import rule
from ..core import image_check
from .training import kshot

FULL = "full"
EVAL_EVERY = 5   # every 5th file (by the sha256 of its name) is held out for evaluation


@dataclasses.dataclass
class Split:
    """Encoded images (bytes) with their labels, one split."""
    files: List[str]
    labels: List[int]
    data: List[bytes]


def image_folder_splits(root, eval_every=EVAL_EVERY):
    """(class names, train Split, eval Split) of a class-folder tree root/<label>/<file>: a
    file is held out when the sha256 of its relative path is 0 modulo eval_every, so the
    eval set is the same on every run and machine."""
    names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                   and not keys.is_hidden_or_os_metadata(d))
    train, held = Split([], [], []), Split([], [], [])
    for label, name in enumerate(names):
        for file in sorted(f for f in os.listdir(os.path.join(root, name))
                           if not keys.is_hidden_or_os_metadata(f)):
            rel = f"{name}/{file}"
            split = held if int(hashlib.sha256(rel.encode()).hexdigest(), 16) % eval_every == 0 else train
            split.files.append(rel)
            split.labels.append(label)
            with open(os.path.join(root, rel), "rb") as f:
                split.data.append(f.read())
    return names, train, held


def k_shot_subset(split, k):
    """The k examples per class the Trainer would choose (kshot.select on the file names)."""
    if k == FULL:
        return split
    chosen = kshot.select(zip(split.files, (str(l) for l in split.labels)), k)
    keep = [i for i, f in enumerate(split.files) if f in chosen]
    return Split([split.files[i] for i in keep], [split.labels[i] for i in keep],
                 [split.data[i] for i in keep])


def decision_for(train, num_classes, image_area, k, batch_size, batch_policy,
                 schedule_override=None, **options):
    """The HyperRule's decision for this data (k-shot counts as k x classes); `options` are
    rule.decide's own (preserve_orientation, head_init, seed, ...)."""
    return rule.decide(len(train.files), num_classes, image_area, batch_size=batch_size,
                       batch_policy=batch_policy, k_shot=None if k == FULL else k,
                       schedule_override=schedule_override, **options)


def _images(data, size):
    import tensorflow as tf

    from .bit.signatures import decode_and_resize
    return decode_and_resize(tf.constant(data), size)


def fine_tune(spec, train, held, num_classes, decision, log=None):
    """Fine-tunes `spec` by `decision` on `train`; returns eval accuracy on `held`. The Trainer's
    own pieces: its seeding, head start (decision.head_init: the rule's zero head or the
    linear probe, probe.py), optimiser step (Trainer) and augmentation (augment.for_decision)."""
    import tensorflow as tf
    import tf_keras as keras

    from .bit import build_classifier
    from ..core import rule as hyperrule
    from .training import augment, probe
    from .training.config import TrainerConfig
    from .training.run import Trainer

    seed = int(decision.seed)
    keras.utils.set_random_seed(seed)
    model = build_classifier(spec, num_classes)
    trainer = Trainer(tf.distribute.get_strategy(), model, decision, TrainerConfig(model_spec=spec),
                      num_classes)
    at_crop = _images(train.data, decision.crop_size)
    at_resize = _images(train.data, decision.resize_size) if decision.random_crop else at_crop
    labels = tf.constant(train.labels, tf.int32)
    if decision.head_init == hyperrule.HEAD_LINEAR_PROBE:
        probe.init_head(model, [(at_crop, train.labels)], num_classes)
    batch, n = int(decision.effective_batch_size), len(train.files)
    order = np.random.default_rng(seed)
    stream = np.concatenate([order.permutation(n) for _ in range(-(-decision.total_steps * batch // n) + 1)])
    for step in range(int(decision.total_steps)):
        index = tf.constant(stream[step * batch:(step + 1) * batch])
        images = augment.for_decision(tf.gather(at_resize, index), tf.gather(at_crop, index),
                                      decision, tf.constant([seed, step], tf.int64))
        loss, _ = trainer.step(images, tf.gather(labels, index))
        if log and (step + 1) % 100 == 0:
            log(f"  {spec} step {step + 1}/{decision.total_steps} loss {float(loss):.3f}")
    return accuracy(model, _images(held.data, decision.crop_size), held.labels)


def pre_logits(spec, split, size, batch=128):
    """The pre-logits vectors (the head's input) of `spec`'s backbone for a split's images."""
    from .bit import build_classifier
    from .export.saved_model import features_model
    features = features_model(build_classifier(spec, 2))
    images = _images(split.data, size)
    return np.concatenate([features(images[i:i + batch], training=False).numpy()
                           for i in range(0, len(split.data), batch)])


def probe_accuracy(train_features, train_labels, eval_features, eval_labels, num_classes):
    """Eval accuracy of the linear probe (probe.fit: the Trainer's LP-FT head) fitted on the
    training features."""
    from .training import probe
    kernel, bias, _ = probe.fit(train_features, train_labels, num_classes)
    return float(np.mean((eval_features @ kernel + bias).argmax(-1) == np.asarray(eval_labels)))


def linear_probe(spec, train, held, size):
    """Eval accuracy of the linear probe on the pre-logits of `spec`."""
    return probe_accuracy(pre_logits(spec, train, size), train.labels, pre_logits(spec, held, size),
                          held.labels, max(train.labels) + 1)


def accuracy(model, images, labels, batch=64):
    correct = 0
    for start in range(0, len(labels), batch):
        logits = model(images[start:start + batch], training=False).numpy()
        correct += int((logits.argmax(-1) == np.asarray(labels[start:start + batch])).sum())
    return correct / len(labels)


PROBE, FINETUNE = "linear_probe", "fine_tune"


def measure_probe(root, pretrained_spec, random_spec, ks: Sequence = (1, 2, 5, 10, FULL),
                  log=None, eval_every=EVAL_EVERY, seed=rule.DEFAULT_SEED):
    """The k-shot table by linear probe: each backbone's pre-logits at the HyperRule's crop size
    for these images, computed once, then logistic regression on the k examples per class.
    `seed` seeds random init's weights (the same table twice is the same table)."""
    import tf_keras as keras
    names, train, held = image_folder_splits(root, eval_every)
    image_area = float(np.median([_area(d) for d in train.data]))
    crop = rule.resolution(image_area)[1]
    features = {}
    for arm, spec in (("pretrained", pretrained_spec), ("random", random_spec)):
        keras.utils.set_random_seed(seed)
        features[arm] = (pre_logits(spec, train, crop), pre_logits(spec, held, crop))
    rows = []
    for k in ks:
        chosen = set(k_shot_subset(train, k).files)
        index = [i for i, f in enumerate(train.files) if f in chosen]
        row: Dict = {"k": k, "train_examples": len(index), "eval_examples": len(held.files),
                     "crop": crop, "method": PROBE}
        for arm, (a, b) in features.items():
            row[arm] = probe_accuracy(a[index], [train.labels[i] for i in index], b, held.labels,
                                      len(names))
        _add_errors(row)
        rows.append(row)
        if log:
            log(f"probe k={k}: pre-trained {row['pretrained']:.3f}, random init {row['random']:.3f}")
    return {"classes": names, "pretrained": pretrained_spec, "random": random_spec,
            "method": PROBE, "rows": rows}


def measure(root, pretrained_spec, random_spec, ks: Sequence = (1, 2, 5, 10, FULL), batch_size=8,
            batch_policy=rule.KEEP_LR, schedule_override: Optional[dict] = None, log=None,
            eval_every=EVAL_EVERY, **options):
    """The k-shot table by fine-tuning: one row per k with both accuracies, the HyperRule's
    steps and batch, and seconds per run. Both arms of a row use the same decision, data and
    seed. `options`: rule.decide's (preserve_orientation, head_init, seed)."""
    names, train, held = image_folder_splits(root, eval_every)
    image_area = float(np.median([_area(d) for d in train.data]))
    rows = []
    for k in ks:
        subset = k_shot_subset(train, k)
        decision = decision_for(train, len(names), image_area, k, batch_size, batch_policy,
                                schedule_override, **options)
        row: Dict = {"k": k, "train_examples": len(subset.files), "eval_examples": len(held.files),
                     "method": FINETUNE,
                     "steps": decision.total_steps, "batch": decision.effective_batch_size,
                     "crop": decision.crop_size, "learning_rate": decision.learning_rate,
                     "head_init": decision.head_init, "random_flip": decision.random_flip}
        for arm, spec in (("pretrained", pretrained_spec), ("random", random_spec)):
            started = time.perf_counter()
            row[arm] = fine_tune(spec, subset, held, len(names), decision, log=log)
            row[f"{arm}_seconds"] = round(time.perf_counter() - started, 1)
        _add_errors(row)
        rows.append(row)
        if log:
            log(f"k={k}: pre-trained {row['pretrained']:.3f}, random init {row['random']:.3f}")
    return {"classes": names, "pretrained": pretrained_spec, "random": random_spec,
            "method": FINETUNE, "batch_policy": batch_policy, "seed": decision.seed, "rows": rows,
            "schedule_overridden": schedule_override is not None}


def _add_errors(row):
    """The gain, and each accuracy's standard error over the eval set (binomial:
    sqrt(p (1 - p) / n)): small eval sets are noisy."""
    row["gain"] = row["pretrained"] - row["random"]
    for arm in ("pretrained", "random"):
        p = row[arm]
        row[f"{arm}_se"] = round(float(np.sqrt(p * (1 - p) / row["eval_examples"])), 4)


def _area(data):
    """Pixels of an encoded image, from its header (as ingestion reads it)."""
    _, height, width = image_check.read_header(data)
    return height * width


def markdown(result):
    """The table bench/transfer.py prints and docs/benchmarks.md carries."""
    lines = ["| k per class | train images | how | pre-trained | random init | gain (points) |",
             "|---|---|---|---|---|---|"]

    def value(r, arm):
        se = r.get(f"{arm}_se")
        return f"{r[arm]:.3f}" + (f" ± {se:.3f}" if se is not None else "")
    for r in result["rows"]:
        how = (f"fine-tune {r['steps']} x {r['batch']}" if r.get("method") == FINETUNE
               else f"linear probe at {r['crop']} px")
        lines.append(f"| {r['k']} | {r['train_examples']} | {how} | "
                     f"{value(r, 'pretrained')} | {value(r, 'random')} | {100 * r['gain']:+.1f} |")
    return "\n".join(lines)

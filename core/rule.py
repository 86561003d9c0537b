"""The BiT-HyperRule as pure functions (no TensorFlow; tests run in milliseconds).

Each function is one rule of the recipe (shared/reference/bit-recipe.md, read
from the official bit_hyperrule.py). `decide` puts them together and records
every number a decision came from.
"""
from .errors import ConfigError
from .decision import DEFAULT_SEED, HEAD_LINEAR_PROBE, HEAD_ZERO, Decision

BASE_LR = 0.003
BASE_BATCH = 512
MOMENTUM = 0.9
SMALL_IMAGE_AREA = 96 * 96          # strictly below: low-resolution regime
SMALL_RESOLUTION = (160, 128)       # (resize, crop)
LARGE_RESOLUTION = (512, 480)
MIXUP_ALPHA = 0.1
MIXUP_MIN_EXAMPLES = 20_000
# (first size of the bucket, warmup, boundaries, total): the three buckets.
SCHEDULE_BUCKETS = (
    (0, 100, (200, 300, 400), 500),
    (20_000, 500, (3000, 6000, 9000), 10_000),
    (500_000, 500, (6000, 12_000, 18_000), 20_000),
)
# accumulate: micro-batches summed to 512 (exact); scale_lr: lr 0.003 x batch / 512 (linear
# scaling); keep_lr: lr 0.003 at the batch given, no accumulation (not exact: the rule's steps
# and learning rate with noisier gradients and fewer examples seen; see batch_plan).
ACCUMULATE, SCALE_LR, KEEP_LR = "accumulate", "scale_lr", "keep_lr"
BATCH_POLICIES = (ACCUMULATE, SCALE_LR, KEEP_LR)
DEFAULT_BATCH_POLICY = ACCUMULATE  # exact: BiT has no batch statistics
# How the new head starts. BiT's rule: at zero (kernel and bias). Beyond the rule, the product's
# default: LP-FT (Kumar et al., ICLR 2022): the head is first fitted as a linear probe on the
# backbone's pre-logits of the training images (logistic regression on standardised features,
# the standardisation folded into the kernel and bias), then every layer fine-tunes by the rule.
# A zero head on pre-logits of small between-class spread moves the backbone by gradients that
# carry no class information at first; docs/benchmarks.md, "Transfer that works".
HEAD_INITS = (HEAD_ZERO, HEAD_LINEAR_PROBE)
DEFAULT_HEAD_INIT = HEAD_LINEAR_PROBE
# DEFAULT_SEED (decision.py) seeds the weights a run initialises, the data order and every
# augmentation (recorded).


class RuleError(ConfigError):
    """An invalid HyperRule input; the message names the field and the fix."""


def resolution(image_area):
    """(resize, crop) sizes: 160/128 below 96*96 pixels of area, else 512/480."""
    if image_area is None or image_area <= 0:
        raise RuleError(f"image_area must be a positive number of pixels, got {image_area!r}")
    return SMALL_RESOLUTION if image_area < SMALL_IMAGE_AREA else LARGE_RESOLUTION


def schedule(dataset_size):
    """(warmup, boundaries, total) in optimiser steps at batch 512."""
    if dataset_size is None or dataset_size < 1:
        raise RuleError(f"dataset_size must be at least 1 training example, got {dataset_size!r}")
    chosen = None
    for first, warmup, boundaries, total in SCHEDULE_BUCKETS:
        if dataset_size >= first:
            chosen = (warmup, list(boundaries), total)
    return chosen


def mixup_alpha(dataset_size):
    """MixUp off below 20,000 training examples, alpha 0.1 at or above."""
    return 0.0 if dataset_size < MIXUP_MIN_EXAMPLES else MIXUP_ALPHA


def learning_rate(step, base_lr, warmup, boundaries, total):
    """Learning rate at optimiser step `step`; None once training has ended.

    Linear warmup from exactly 0, then base / 10**k with k the number of
    boundaries strictly below `step` (the official get_lr).
    """
    if step < 0:
        raise RuleError(f"step must be >= 0, got {step}")
    if step >= total:
        return None
    if step < warmup:
        return base_lr * step / warmup
    k = sum(1 for b in boundaries if b < step)
    return base_lr / (10 ** k)


def batch_plan(batch_size, policy):
    """How a global batch other than 512 keeps the rule: returns
    (learning_rate, accumulation_steps).

    accumulate: 0.003 with 512 / batch micro-batches per step, exactly the rule's gradient.
    scale_lr: 0.003 x batch / 512 and no accumulation (linear scaling).
    keep_lr: 0.003 and no accumulation: the rule's steps and learning rate at a small batch.
      Not exact. The official README's small-batch advice, batch 128 at lr 0.001, sits
      between scale_lr and keep_lr. From a zero head, a small backbone whose pre-logits carry
      little between-class variance learns nothing in 500 steps at the linearly scaled rate;
      from the linear-probe head (HEAD_LINEAR_PROBE) scale_lr keeps and improves the probe
      while keep_lr's 32x larger rate per example at batch 16 moves the features away from it
      (docs/benchmarks.md, "Transfer that works")."""
    if batch_size is None or batch_size < 1:
        raise RuleError(f"batch_size must be a positive integer, got {batch_size!r}", field="batch_size")
    if policy not in BATCH_POLICIES:
        raise RuleError(f"batch_policy must be one of {BATCH_POLICIES}, got {policy!r}", field="batch_policy")
    if policy == SCALE_LR or batch_size == BASE_BATCH:
        return BASE_LR * batch_size / BASE_BATCH, 1
    if policy == KEEP_LR:
        return BASE_LR, 1
    if batch_size > BASE_BATCH or BASE_BATCH % batch_size:
        raise RuleError(
            f"batch_size {batch_size} cannot accumulate to an effective batch of {BASE_BATCH}: "
            f"use a divisor of {BASE_BATCH} (e.g. 256, 128, 64, 32) or batch_policy='scale_lr'",
            field="batch_size")
    return BASE_LR, BASE_BATCH // batch_size


def check_head_init(head_init):
    if head_init not in HEAD_INITS:
        raise RuleError(f"head_init must be one of {HEAD_INITS}, got {head_init!r}", field="head_init")
    return head_init


def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 31:
        raise RuleError(f"seed must be an integer in [0, 2**31), got {seed!r}", field="seed")
    return seed


def check_schedule_override(override):
    """Validate an explicit {warmup, boundaries, total[, learning_rate]} schedule (smoke runs)."""
    keys = set(override) if isinstance(override, dict) else set()
    if not {"warmup", "boundaries", "total"} <= keys <= {"warmup", "boundaries", "total", "learning_rate"}:
        raise RuleError(
            "schedule_override must be an object with the keys warmup, boundaries, total (and "
            f"optionally learning_rate), e.g. {{\"warmup\": 2, \"boundaries\": [4, 6, 8], \"total\": 10}}; "
            f"got {override!r}", field="schedule_override")
    lr = override.get("learning_rate")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise RuleError(f"schedule_override learning_rate must be a positive number, got {lr!r}",
                        field="schedule_override")
    warmup, boundaries, total = override["warmup"], override["boundaries"], override["total"]
    if not isinstance(boundaries, (list, tuple)):
        raise RuleError("schedule_override boundaries must be a list of integers such as [4, 6, 8], "
                        f"got {boundaries!r}", field="schedule_override")
    boundaries = list(boundaries)
    ints = [warmup, total, *boundaries]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
        raise RuleError(f"schedule_override values must be integers, got {override!r}",
                        field="schedule_override")
    if not (0 <= warmup < total) or any(b < warmup or b >= total for b in boundaries) \
            or boundaries != sorted(set(boundaries)):
        raise RuleError(
            "schedule_override needs 0 <= warmup <= boundaries (strictly increasing) < total, "
            f"got {override!r}", field="schedule_override")
    return warmup, boundaries, total


def check_k_shot(k_shot, class_counts, num_classes):
    """k-shot trains on k examples of every class: refuse a k above the smallest class.

    class_counts: {label: training examples} as the statistics show them. A statistics
    histogram is bounded: when it shows fewer than num_classes labels, each label left out has
    at most the smallest count shown, so a k above that is refused too."""
    if not k_shot or not class_counts:
        return
    short = {label: n for label, n in sorted(class_counts.items()) if n < k_shot}
    hidden = num_classes - len(class_counts)
    if not short and hidden > 0 and min(class_counts.values()) < k_shot:
        short = {f"{hidden} class(es) beyond the statistics' histogram": min(class_counts.values())}
    if short:
        fewest = min(min(class_counts.values()), *short.values())
        raise RuleError(
            f"k_shot {k_shot} is more than the smallest class has: training examples per class "
            f"{short}; k-shot takes k examples of every class, so give --k-shot {fewest} or less "
            "(or leave it out to train on everything)")


def class_weights(class_counts, num_classes, k_shot=None):
    """Inverse-frequency loss weights {label: N / (C x n_label)} (mean weight over the training
    examples is 1), for class-imbalanced data (tensorflow/tfx#1549). Not part of the HyperRule,
    which weighs every example alike: an option, off by default. k-shot trains on k of every
    class, so its weights are all 1. Needs every class's count: a statistics histogram that
    shows fewer labels than num_classes is refused."""
    if len(class_counts or {}) != num_classes:
        raise RuleError(
            f"class weighting needs the training count of every class, but the statistics show "
            f"{len(class_counts or {})} of {num_classes} classes (StatisticsGen keeps the top labels "
            "of its rank histogram): leave --class-weighted out for this data", field="class_weighted")
    counts = {label: (k_shot or n) for label, n in class_counts.items()}
    if min(counts.values()) < 1:
        raise RuleError(f"class weighting: a class has no training examples: {counts}",
                        field="class_weighted")
    total = sum(counts.values())
    return {label: total / (num_classes * n) for label, n in sorted(counts.items())}


def decide(num_train_examples, num_classes, image_area, *, preserve_count=False,
           preserve_orientation=False, batch_size=BASE_BATCH, batch_policy=DEFAULT_BATCH_POLICY,
           k_shot=None, schedule_override=None, class_counts=None, head_init=DEFAULT_HEAD_INIT,
           seed=DEFAULT_SEED):
    """The whole HyperRule decision (a Decision) with its inputs. class_counts (the
    train split's {label: examples}) turns on inverse-frequency class weights (class_weights);
    None: every example weighs the same, as the HyperRule does. head_init: the rule's zero head,
    or the product's linear-probe start (LP-FT); seed: the run's seed, recorded."""
    if num_classes is None or num_classes < 2:
        raise RuleError(f"num_classes must be at least 2 for classification, got {num_classes!r}")
    if k_shot is not None and (not isinstance(k_shot, int) or k_shot < 1):
        raise RuleError(f"k_shot must be a positive integer or None, got {k_shot!r}", field="k_shot")
    check_head_init(head_init)
    check_seed(seed)
    dataset_size = k_shot * num_classes if k_shot else num_train_examples
    resize, crop = resolution(image_area)
    warmup, boundaries, total = schedule(dataset_size)
    rule_schedule = {"warmup_steps": warmup, "decay_boundaries": boundaries, "total_steps": total}
    if schedule_override is not None:
        warmup, boundaries, total = check_schedule_override(schedule_override)
    lr, accumulation = batch_plan(batch_size, batch_policy)
    weights = class_weights(class_counts, num_classes, k_shot) if class_counts is not None else None
    rule_lr = lr
    if schedule_override is not None and "learning_rate" in schedule_override:
        lr = float(schedule_override["learning_rate"])
    return Decision(
        inputs={
            "num_train_examples": num_train_examples,
            "num_classes": num_classes,
            "k_shot": k_shot,
            "dataset_size": dataset_size,
            "image_area": image_area,
            "preserve_count": preserve_count,
            "preserve_orientation": preserve_orientation,
            "batch_size": batch_size,
            "batch_policy": batch_policy,
        },
        resize_size=resize,
        crop_size=crop,
        random_crop=not preserve_count,
        random_flip=not preserve_orientation,
        mixup_alpha=mixup_alpha(dataset_size),
        warmup_steps=warmup,
        decay_boundaries=tuple(boundaries),
        decay_factor=0.1,
        total_steps=total,
        schedule_overridden=schedule_override is not None,
        rule_schedule=dict(rule_schedule, learning_rate=rule_lr),
        optimizer="sgd",
        momentum=MOMENTUM,
        base_learning_rate=BASE_LR,
        base_batch_size=BASE_BATCH,
        learning_rate=lr,
        batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        effective_batch_size=batch_size * accumulation,
        weight_decay=0.0,
        label_smoothing=0.0,
        # Not the HyperRule's (which weighs examples alike): an option, recorded when on.
        class_weighting="inverse_frequency" if weights else None,
        class_weights=weights,
        # Not the HyperRule's either (its head starts at zero): recorded, --head-init zero
        # restores the rule exactly.
        head_init=head_init,
        seed=seed,
    )


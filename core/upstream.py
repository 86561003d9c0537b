"""The BiT upstream (pre-training) recipe as pure functions (no TensorFlow), beside the
downstream HyperRule (rule.py), read the same way: each function one rule, `decide`
puts them together and records every number a decision came from.

Source: the BiT paper (Kolesnikov et al., ECCV 2020), section 3.1 "Upstream pre-training",
as summarised in shared/reference/bit-recipe.md ("Upstream pre-training"): ResNet-v2 with
GroupNorm + Weight Standardisation; SGD with momentum 0.9; initial learning rate 0.03 x
batch/256; global batch 4096; linear warmup over the first 5,000 optimiser steps; BiT-S/M
train 90 epochs with the learning rate x0.1 at epochs 30, 60 and 80, BiT-L 40 epochs with
decays at 10, 23, 30 and 37; weight decay 1e-4 (upstream only); Inception-style random
resized crop to 224 and random horizontal flip. Our searches found the paper's abstract and
introduction but not section 3.1's text, so these numbers rest on the reference file.

Scaling to a dataset of another size (the paper's runs are ImageNet-sized):
  - the schedule is in epochs, so steps = epochs x examples / effective batch;
  - the warmup is 5,000 steps at batch 4096, i.e. 20.48M examples; on ImageNet-1k that is
    5000 / 28,150 = 17.8% of the 90-epoch run. A small dataset cannot warm up over 20M
    examples, so the warmup is the paper's number of examples, capped at that same fraction
    of the run (WARMUP_MAX_FRACTION). Both numbers are recorded.
"""
import math

from .decision import UPSTREAM_RECIPE as RECIPE  # Decision.recipe: the Trainer pre-trains
from .decision import Decision
from .rule import ACCUMULATE, DEFAULT_SEED, HEAD_ZERO, MOMENTUM, SCALE_LR, RuleError, check_seed

INCEPTION_CROP = "inception"    # Decision.crop: the Trainer's Inception-style random resized crop
BASE_LR = 0.03
BASE_LR_BATCH = 256            # the learning rate scales linearly: 0.03 x batch / 256
BATCH = 4096                   # global batch of the paper's runs
WARMUP_STEPS = 5000            # at batch 4096
WEIGHT_DECAY = 1e-4
CROP = 224
DECAY_FACTOR = 0.1
# Inception-style random resized crop: a random area fraction and aspect ratio, then a
# resize to CROP (Szegedy et al. 2015, as in standard ImageNet training).
CROP_AREA = (0.08, 1.0)
CROP_ASPECT = (3 / 4, 4 / 3)
IMAGENET_1K_EXAMPLES = 1_281_167
# (epochs, decay epochs) per upstream variant.
SCHEDULES = {
    "bit-s": (90, (30, 60, 80)),
    "bit-m": (90, (30, 60, 80)),
    "bit-l": (40, (10, 23, 30, 37)),
}
WARMUP_MAX_FRACTION = WARMUP_STEPS / (SCHEDULES["bit-s"][0] * IMAGENET_1K_EXAMPLES / BATCH)
# The downstream rule's policies but keep_lr, its small-batch compromise for a 500-step fine-tune.
BATCH_POLICIES = (ACCUMULATE, SCALE_LR)
DEFAULT_BATCH_POLICY = ACCUMULATE
DEFAULT_SCHEDULE = "bit-m"
# What a user may override, and the type it must have.
OVERRIDABLE = {"epochs": int, "decay_epochs": list, "crop_size": int, "learning_rate": float,
               "warmup_steps": int, "effective_batch_size": int}


def learning_rate(effective_batch):
    """0.03 x effective batch / 256."""
    return BASE_LR * effective_batch / BASE_LR_BATCH


def epoch_schedule(variant):
    """(epochs, decay epochs) of an upstream variant: bit-s, bit-m (90; 30, 60, 80), bit-l."""
    if variant not in SCHEDULES:
        raise RuleError(f"schedule must be one of {sorted(SCHEDULES)}, got {variant!r}")
    epochs, decays = SCHEDULES[variant]
    return epochs, list(decays)


def check_epochs(epochs, decay_epochs):
    """A positive number of epochs, and decay epochs strictly increasing inside it."""
    if not (isinstance(epochs, int) and epochs >= 1):
        raise RuleError(f"epochs must be a positive integer, got {epochs!r}")
    if list(decay_epochs) != sorted(set(decay_epochs)) or any(not 0 < e < epochs for e in decay_epochs):
        raise RuleError(f"decay_epochs must be strictly increasing, each in (0, epochs={epochs}), "
                        f"got {decay_epochs!r}: an 'epochs' override needs a 'decay_epochs' "
                        "override that fits it")


def step_schedule(dataset_size, effective_batch, epochs, decay_epochs):
    """(total steps, decay boundaries in steps) for `epochs` over `dataset_size` examples."""
    if dataset_size is None or dataset_size < 1:
        raise RuleError(f"dataset_size must be at least 1 training example, got {dataset_size!r}")
    check_epochs(epochs, decay_epochs)
    per_epoch = dataset_size / effective_batch
    total = max(1, math.ceil(epochs * per_epoch))
    boundaries = [min(total - 1, max(1, round(e * per_epoch))) for e in decay_epochs]
    return total, sorted(set(boundaries))


def warmup_steps(total_steps, effective_batch):
    """The paper's warmup in examples (5000 x 4096), capped at the share of the run it
    takes on ImageNet-1k; in optimiser steps of `effective_batch`."""
    paper = WARMUP_STEPS * BATCH / effective_batch
    cap = WARMUP_MAX_FRACTION * total_steps
    return int(round(min(paper, cap)))


def batch_plan(batch_size, policy, effective_batch=BATCH):
    """(effective batch, gradient accumulation steps) for a global batch the hardware holds.
    accumulate: micro-batches summed to `effective_batch` (exact for GN+WS, no batch
    statistics); scale_lr: the batch as it is, with the learning rate 0.03 x batch / 256."""
    if batch_size is None or batch_size < 1:
        raise RuleError(f"batch_size must be a positive integer, got {batch_size!r}", field="batch_size")
    if policy not in BATCH_POLICIES:
        raise RuleError(f"batch_policy must be one of {BATCH_POLICIES} for pre-training (keep_lr is "
                        f"the HyperRule's only), got {policy!r}", field="batch_policy")
    if policy == SCALE_LR or batch_size == effective_batch:
        return batch_size, 1
    if batch_size > effective_batch or effective_batch % batch_size:
        raise RuleError(f"batch_size {batch_size} cannot accumulate to an effective batch of "
                        f"{effective_batch}: use a divisor of it or batch_policy='scale_lr'")
    return effective_batch, effective_batch // batch_size


def check_overrides(overrides):
    """{name: value} of recipe values a user replaces; names and types checked."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict) or set(overrides) - set(OVERRIDABLE):
        raise RuleError(f"upstream overrides must be an object with keys among "
                        f"{sorted(OVERRIDABLE)}, got {overrides!r}")
    for name, value in overrides.items():
        kind = OVERRIDABLE[name]
        ok = (isinstance(value, list) and all(isinstance(v, int) for v in value)) if kind is list \
            else isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 \
            and (kind is float or isinstance(value, int))
        if not ok:
            raise RuleError(f"upstream override {name} must be a positive {kind.__name__}"
                            f"{' of integers' if kind is list else ''}, got {value!r}")
    return dict(overrides)


def check_config(schedule, batch_size, batch_policy, overrides):
    """Every check that needs no data (before a pipeline starts); raises RuleError."""
    overrides = check_overrides(overrides)
    epochs, decays = epoch_schedule(schedule)
    check_epochs(overrides.get("epochs", epochs), overrides.get("decay_epochs", decays))
    batch_plan(batch_size, batch_policy, overrides.get("effective_batch_size", BATCH))


def decide(num_train_examples, num_classes, *, schedule=DEFAULT_SCHEDULE, batch_size=BATCH,
           batch_policy=DEFAULT_BATCH_POLICY, overrides=None, seed=DEFAULT_SEED):
    """The whole upstream decision (a Decision: the fields the Trainer reads for the
    downstream rule too, and the recipe's own), with the recipe values beside every override."""
    if num_classes is None or num_classes < 2:
        raise RuleError(f"num_classes must be at least 2 for classification, got {num_classes!r}")
    overrides = check_overrides(overrides)
    check_seed(seed)
    epochs, decays = epoch_schedule(schedule)
    recipe = {"epochs": epochs, "decay_epochs": decays, "crop_size": CROP,
              "effective_batch_size": BATCH}
    chosen = dict(recipe, **{k: v for k, v in overrides.items() if k in recipe})
    effective, accumulation = batch_plan(batch_size, batch_policy, chosen["effective_batch_size"])
    total, boundaries = step_schedule(num_train_examples, effective, chosen["epochs"],
                                      chosen["decay_epochs"])
    recipe["learning_rate"] = learning_rate(effective)
    recipe["warmup_steps"] = warmup_steps(total, effective)
    lr = float(overrides.get("learning_rate", recipe["learning_rate"]))
    warmup = overrides.get("warmup_steps", recipe["warmup_steps"])
    if warmup >= total:
        raise RuleError(f"warmup_steps {warmup} must be below the total of {total} steps")
    return Decision(
        recipe=RECIPE,
        inputs={"num_train_examples": num_train_examples, "num_classes": num_classes,
                "dataset_size": num_train_examples, "schedule": schedule,
                "batch_size": batch_size, "batch_policy": batch_policy},
        epochs=chosen["epochs"],
        decay_epochs=tuple(chosen["decay_epochs"]),
        crop=INCEPTION_CROP,
        crop_area_range=tuple(CROP_AREA),
        crop_aspect_range=tuple(round(v, 6) for v in CROP_ASPECT),
        crop_size=chosen["crop_size"],
        resize_size=chosen["crop_size"],
        random_crop=True,
        random_flip=True,
        mixup_alpha=0.0,
        warmup_steps=warmup,
        decay_boundaries=tuple(boundaries),
        decay_factor=DECAY_FACTOR,
        total_steps=total,
        optimizer="sgd",
        momentum=MOMENTUM,
        base_learning_rate=BASE_LR,
        base_batch_size=BASE_LR_BATCH,
        learning_rate=lr,
        batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        effective_batch_size=effective,
        weight_decay=WEIGHT_DECAY,
        label_smoothing=0.0,
        overrides={k: {"value": v, "recipe": recipe[k]} for k, v in overrides.items()},
        recipe_values=recipe,
        head_init=HEAD_ZERO,   # pre-training: a new head over features still to be learnt
        seed=seed,
    )

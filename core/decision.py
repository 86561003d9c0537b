"""The decision a run trains by, as one typed, frozen record (no TensorFlow).

The HyperRule (rule.decide) and the upstream recipe (upstream.decide) return a `Decision`;
the HyperRule component writes it as the HyperParameters artifact's JSON (`to_json`, the same
readable file as before: TFX's artifact, one JSON object); Transform, the Trainer, the model
card, the report and the transfer study read it back with `from_json` and use attributes, so a
misspelt field is an AttributeError where it is written, not a silent None at run time.

Fields every decision has come first; then those of the downstream HyperRule only, then those
of the upstream recipe only (`recipe` set). `to_json` leaves out the other recipe's fields, so
each artifact holds exactly the keys its rule decides.
"""
import dataclasses
from typing import Any, Dict, Optional, Tuple

from .errors import ConfigError

UPSTREAM_RECIPE = "bit-upstream"  # Decision.recipe of a pre-training decision (upstream.py)
# Decision.head_init: BiT's zero head, or the head fitted as a linear probe first (LP-FT; rule.py).
HEAD_ZERO, HEAD_LINEAR_PROBE = "zero", "linear_probe"
DEFAULT_SEED = 0

# Written by releases before the field existed: what such an artifact meant.
_DEFAULTS_OF_OLDER_ARTIFACTS = {"head_init": HEAD_ZERO, "seed": DEFAULT_SEED}


@dataclasses.dataclass(frozen=True)
class Decision:
    inputs: Dict[str, Any]          # every input the decision was made from
    resize_size: int                # Transform resizes every image to this square
    crop_size: int                  # the Trainer's (random or central) crop; served at this size
    random_crop: bool
    random_flip: bool
    mixup_alpha: float              # 0.0: MixUp off
    warmup_steps: int
    decay_boundaries: Tuple[int, ...]
    decay_factor: float
    total_steps: int
    optimizer: str
    momentum: float
    base_learning_rate: float
    base_batch_size: int
    learning_rate: float
    batch_size: int                 # global batch of one micro-step
    gradient_accumulation_steps: int
    effective_batch_size: int       # batch_size x gradient_accumulation_steps
    weight_decay: float
    label_smoothing: float
    head_init: str                  # HEAD_ZERO (BiT) or HEAD_LINEAR_PROBE (LP-FT)
    seed: int
    statistics: Optional[Dict[str, Any]] = None  # what the HyperRule read (component only)
    # The downstream HyperRule's only.
    schedule_overridden: Optional[bool] = None
    rule_schedule: Optional[Dict[str, Any]] = None
    class_weighting: Optional[str] = None
    class_weights: Optional[Dict[str, float]] = None
    # The upstream recipe's only.
    recipe: Optional[str] = None
    epochs: Optional[int] = None
    decay_epochs: Optional[Tuple[int, ...]] = None
    crop: Optional[str] = None               # upstream.INCEPTION_CROP
    crop_area_range: Optional[Tuple[float, float]] = None
    crop_aspect_range: Optional[Tuple[float, float]] = None
    overrides: Optional[Dict[str, Any]] = None
    recipe_values: Optional[Dict[str, Any]] = None

    @property
    def upstream(self):
        """A pre-training decision (the Trainer pre-trains: Inception crop, weight decay, npz)."""
        return self.recipe == UPSTREAM_RECIPE

    def with_statistics(self, statistics):
        return dataclasses.replace(self, statistics=statistics)

    def to_json(self):
        """The artifact's JSON object: this recipe's keys (lists, not tuples)."""
        skip = _DOWNSTREAM_ONLY if self.upstream else _UPSTREAM_ONLY
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in skip or (field.name == "statistics" and value is None):
                continue
            out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, data, source="the decision"):
        """A Decision from the artifact's JSON object; `source` names the file in errors."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source} is not a JSON object: {type(data).__name__}")
        data = dict(_DEFAULTS_OF_OLDER_ARTIFACTS, **data)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.name not in data)
        if unknown or missing:
            raise ConfigError(
                f"{source} is not a decision this bit-tfx reads: "
                + "; ".join(p for p in (f"unknown fields {unknown}" if unknown else "",
                                        f"missing fields {missing}" if missing else "") if p)
                + ". It was written by another version of bit-tfx: run the pipeline again "
                "(the HyperRule decides anew) with this version")
        tuples = {"decay_boundaries", "decay_epochs", "crop_area_range", "crop_aspect_range"}
        return cls(**{k: tuple(v) if k in tuples and v is not None else v for k, v in data.items()})


_DOWNSTREAM_ONLY = frozenset({"schedule_overridden", "rule_schedule", "class_weighting", "class_weights"})
_UPSTREAM_ONLY = frozenset({"recipe", "epochs", "decay_epochs", "crop", "crop_area_range",
                            "crop_aspect_range", "overrides", "recipe_values"})


def write_decision(decision, hyperparameters_uri):
    """Writes the HyperParameters artifact's one file (the readable JSON every reader above
    reads back); returns its path."""
    import json
    import os

    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from .keys import HYPERPARAMETERS_FILE
    path = os.path.join(hyperparameters_uri, HYPERPARAMETERS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(decision.to_json(), f, indent=1, sort_keys=True)
    return path


def read_decision(hyperparameters_uri):
    """The Decision a HyperParameters artifact holds (its folder, local or gs://): the one
    reader of hyperparameters.json, for Transform, the model card and report facts, and the
    CLI's `hyperrule` answer. (The Trainer gets the same JSON parsed by TFX, fn_args.hyperparameters,
    and reads it with Decision.from_json.) TensorFlow's file system is imported only here."""
    import json
    import os

    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from .keys import HYPERPARAMETERS_FILE
    path = os.path.join(hyperparameters_uri, HYPERPARAMETERS_FILE)
    with tf.io.gfile.GFile(path) as f:
        return Decision.from_json(json.load(f), source=path)

"""What run_fn reads from the Trainer's custom_config, with its defaults and its checks: the
one declaration of the Trainer's settings. pipeline/configs.py RunConfig takes its training
fields' defaults from here and hands them on by these fields' names (RunConfig.trainer_config,
pipeline.trainer_custom_config); the CLI's training flags take their defaults from RunConfig.
A new Trainer setting is a field here, the same-named field on RunConfig and its flag.
Pure Python (no TensorFlow), so that configuration checks stay fast.
"""
import dataclasses
from typing import Optional

from ...core import keys
from ...core.errors import ConfigError

MIXED_PRECISION = ("none", "bfloat16", "float16")
# The Vertex AI Trainer extension forwards its own keys (ai_platform_*: training args, region,
# job id) to the job it launches, and so to run_fn: not ours to read.
VERTEX_EXTENSION_PREFIX = "ai_platform_"


@dataclasses.dataclass
class TrainerConfig:
    model_spec: str
    linear_probe: bool = False
    # Freeze the native backbone from its input through this block (keys.BACKBONE_BLOCKS);
    # None trains every weight (the HyperRule). big_transfer#53.
    freeze_until: Optional[str] = None
    mixed_precision: str = "none"
    checkpoint_every: int = 100
    log_every: int = 10
    # The pushed model's serving_default refuses images above this (the run's ingestion limit).
    max_image_pixels: int = keys.DEFAULT_MAX_IMAGE_PIXELS

    @classmethod
    def from_custom_config(cls, custom_config):
        custom_config = {k: v for k, v in (custom_config or {}).items()
                         if not k.startswith(VERTEX_EXTENSION_PREFIX)}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(custom_config) - known
        if unknown:
            raise ValueError(f"unknown Trainer custom_config keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**custom_config).validate()

    def validate(self):
        """Raises ConfigError naming the field; returns self."""
        from ..bit import spec as model_spec  # pure Python
        model_spec.parse(self.model_spec)  # raises ModelSpecError listing the valid forms
        check_freeze_until(self.freeze_until, self.linear_probe, self.model_spec)
        if self.mixed_precision not in MIXED_PRECISION:
            raise ConfigError(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}, "
                              f"got {self.mixed_precision!r}", field="mixed_precision")
        for name in ("checkpoint_every", "log_every", "max_image_pixels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}", field=name)
        return self

    @classmethod
    def from_settings(cls, settings):
        """The Trainer's settings out of an object that has them as same-named attributes
        (RunConfig, which the Kubeflow config wraps); those it lacks keep their defaults."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)
                      if hasattr(settings, f.name)})


def check_freeze_until(freeze_until, linear_probe, model_spec):
    """Raises ConfigError unless freeze_until is None or a block of a native backbone."""
    if freeze_until is None:
        return
    if freeze_until not in keys.BACKBONE_BLOCKS:
        raise ConfigError(f"freeze_until (--freeze-until) {freeze_until!r} is not a backbone block; "
                          f"one of {', '.join(keys.BACKBONE_BLOCKS)}")
    if linear_probe:
        raise ConfigError("--freeze-until and --linear-probe both freeze the backbone: give one "
                          "(--linear-probe freezes all of it)")
    if str(model_spec).startswith("hub:"):
        raise ConfigError(f"--freeze-until needs a native backbone (npz:, BiT-M-..., random:); a "
                          f"TF Hub module ({model_spec}) is one layer: use --linear-probe or the "
                          f".npz of the same model")

"""What run_fn reads from the Trainer's custom_config, with its defaults, help and checks: the
one declaration of the Trainer's settings (core/settings.py). pipeline/configs.py RunConfig
inherits these fields and hands them on by their names (RunConfig.trainer_config,
pipeline.trainer_custom_config); the CLI's flags derive from them (cli/common.py
add_setting_flags). A new Trainer setting is a field here, and the code in run_fn that reads it.
Pure Python (no TensorFlow), so that configuration checks stay fast.
"""
import dataclasses
from typing import Optional

from ...core import keys
from ...core.errors import ConfigError
from ...core.settings import setting

MIXED_PRECISION = ("none", "bfloat16", "float16")
# The Vertex AI Trainer extension forwards its own keys (ai_platform_*: training args, region,
# job id) to the job it launches, and so to run_fn: not ours to read.
VERTEX_EXTENSION_PREFIX = "ai_platform_"


# The real use: BiT-M-R50x1 from TF Hub, fully fine-tuned.
DEFAULT_MODEL_SPEC = "hub:https://tfhub.dev/google/bit/m-r50x1/1"


@dataclasses.dataclass(kw_only=True)
class TrainerConfig:
    model_spec: str = setting(
        DEFAULT_MODEL_SPEC, flag="--model", metavar="SPEC",
        help="backbone: hub:URL|DIR, npz:NAME|PATH, BiT-M-R50x1, random:ARCH (docs/models.md); "
             "default %(default)s")
    linear_probe: bool = setting(
        False, help="freeze the backbone and train only the head (not the HyperRule)")
    # None trains every weight (the HyperRule). big_transfer#53.
    freeze_until: Optional[str] = setting(
        None, choices=keys.BACKBONE_BLOCKS, metavar="BLOCK",
        help="freeze a native backbone from its input through BLOCK (" + ", ".join(keys.BACKBONE_BLOCKS)
             + "); train the rest (not the HyperRule)")
    mixed_precision: str = setting("none", choices=MIXED_PRECISION, help="default %(default)s")
    checkpoint_every: int = setting(100, metavar="STEPS", help="default %(default)s")
    log_every: int = setting(10, metavar="STEPS",
                             help="log loss, accuracy and speed (and write them for TensorBoard) every STEPS "
                                  "steps (default %(default)s)")
    # The pushed model's serving_default refuses images above this: the run's ingestion limit.
    max_image_pixels: int = setting(
        keys.DEFAULT_MAX_IMAGE_PIXELS,
        help="refuse images with more pixels than this as decompression bombs (ingestion, and "
             "the pushed model's serving signature)")

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

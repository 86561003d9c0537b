"""Pipeline-level defaults and the run configuration (TFX template style).

Feature keys and artifact file names live in components/keys.py, the Trainer's defaults in
components/trainer/config.py and the HyperRule's in components/hyperrule/rule.py; this file
holds what a user configures per run, with its defaults (those, where a component has one), and
the checks that reject an invalid configuration before any component runs.
"""
import dataclasses
import os
import re
import tempfile
from typing import List, Optional

from bit_tfx.components import keys
from bit_tfx.components.errors import ConfigError
from bit_tfx.components.hyperrule import rule, upstream
from bit_tfx.components.trainer.config import (  # pure Python
    MIXED_PRECISION, TrainerConfig, check_freeze_until)
from . import backbones

PIPELINE_NAME = keys.DEFAULT_PIPELINE_NAME
# DirectRunner defaults for local runs: in-memory, one worker. Multi-processing pays
# a worker start-up cost that a small local dataset never earns back.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
# The real use: BiT-M-R50x1 from TF Hub, fully fine-tuned.
DEFAULT_MODEL_SPEC = "hub:https://tfhub.dev/google/bit/m-r50x1/1"
# Pre-training starts from a randomly initialised BiT-R50x1 unless --model continues from one.
PRETRAIN_MODEL_SPEC = "random:R50x1"
DEFAULT_MIN_ACCURACY = 0.5
SERVING_DIR = "serving"      # under --output: the pushed versions of a fine-tuning run
BACKBONES_DIR = "backbones"  # under --output: the pushed backbones of a pre-training run
LOGS_DIR = "logs"            # under --output: each command's full log (libraries included), <time>-<pid>.log
PRETRAIN_PIPELINE_NAME = PIPELINE_NAME + "-pretrain"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")




@dataclasses.dataclass
class RunConfig:
    data: str                                  # folder, CSV manifest or TFRecords; may hold {SPAN}
    output: str = "bit-tfx-output"             # pipeline root, metadata and logs live under it
    pipeline_name: str = PIPELINE_NAME
    layout: str = "auto"
    split_ratio: tuple = keys.DEFAULT_SPLIT_RATIO
    max_bad_fraction: float = keys.DEFAULT_MAX_BAD_FRACTION
    max_image_pixels: int = keys.DEFAULT_MAX_IMAGE_PIXELS
    preserve_count: bool = False
    preserve_orientation: bool = False
    batch_size: int = rule.BASE_BATCH
    batch_policy: str = rule.DEFAULT_BATCH_POLICY
    k_shot: Optional[int] = None
    schedule_override: Optional[dict] = None
    class_weighted: bool = False               # inverse-frequency loss weights (not the HyperRule's)
    beam_args: List[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_BEAM_ARGS))
    pipeline_root_override: Optional[str] = None  # e.g. gs://... for Dataflow workers
    # --- training, evaluation, pushing (bit-tfx run); the Trainer's defaults are its own ---
    model_spec: str = DEFAULT_MODEL_SPEC
    linear_probe: bool = TrainerConfig.linear_probe
    freeze_until: Optional[str] = TrainerConfig.freeze_until
    mixed_precision: str = TrainerConfig.mixed_precision
    checkpoint_every: int = TrainerConfig.checkpoint_every
    serving_dir: Optional[str] = None          # default OUTPUT/serving
    min_accuracy: float = DEFAULT_MIN_ACCURACY  # absolute gate, also on a first run
    max_accuracy_drop: float = 0.0             # no-regression gate against the model now serving
    num_classes: Optional[int] = None          # for per-class metrics; the CLI counts the labels
    # --- upstream pre-training (bit-tfx pretrain): the UpstreamRecipe replaces the HyperRule ---
    pretrain: bool = False
    upstream_schedule: str = upstream.DEFAULT_SCHEDULE   # bit-s, bit-m (90 epochs), bit-l (40)
    upstream_overrides: Optional[dict] = None  # upstream.OVERRIDABLE values, recorded as overrides

    @property
    def serving_directory(self):
        """Where versions are pushed: OUTPUT/serving, or OUTPUT/backbones for pre-training (a
        backbone is not a downstream model: neither may become the other's gate baseline)."""
        return self.serving_dir or os.path.join(os.path.abspath(self.output),
                                                BACKBONES_DIR if self.pretrain else SERVING_DIR)

    @property
    def pipeline_root(self):
        # Absolute: MLMD records artifact URIs as given, and a relative one breaks as soon
        # as the pipeline is run (or read) from another folder.
        return self.pipeline_root_override or os.path.join(os.path.abspath(self.output), "pipeline_root")

    @property
    def metadata_path(self):
        return os.path.join(os.path.abspath(self.output), "metadata.sqlite")

    def validate(self):
        """Every check that needs no data; raises ConfigError naming the field."""
        if not _NAME_RE.match(self.pipeline_name):
            raise ConfigError(f"pipeline_name {self.pipeline_name!r} must match "
                              "[a-z0-9][a-z0-9-]{0,127} (Kubeflow/Vertex naming)",
                              field="pipeline_name")
        if len(self.split_ratio) != 2 or min(self.split_ratio) < 1:
            raise ConfigError(f"split_ratio must be two positive integers train:eval, got {self.split_ratio}",
                              field="split_ratio")
        if not 0 <= self.max_bad_fraction < 1:
            raise ConfigError(f"max_bad_fraction must be in [0, 1), got {self.max_bad_fraction}",
                              field="max_bad_fraction")
        if self.max_image_pixels < 1:
            raise ConfigError(f"max_image_pixels must be positive, got {self.max_image_pixels}",
                              field="max_image_pixels")
        if self.pretrain:
            upstream.check_config(self.upstream_schedule, self.batch_size, self.batch_policy,
                                  self.upstream_overrides)
            for field in ("schedule_override", "k_shot", "class_weighted"):
                if getattr(self, field) not in (None, False):
                    raise ConfigError(f"{field} is a fine-tuning (HyperRule) setting; pre-training "
                                      "follows the upstream recipe: give upstream_overrides instead",
                                      field=field)
        else:
            rule.batch_plan(self.batch_size, self.batch_policy)  # raises RuleError, a ConfigError
        if self.schedule_override is not None:
            rule.check_schedule_override(self.schedule_override)
        if self.k_shot is not None and self.k_shot < 1:
            raise ConfigError(f"k_shot must be a positive integer, got {self.k_shot}", field="k_shot")
        from bit_tfx.components.bit_model import spec as model_spec  # pure Python
        model_spec.parse(self.model_spec)  # raises ModelSpecError listing the valid forms
        check_freeze_until(self.freeze_until, self.linear_probe, self.model_spec)
        if self.mixed_precision not in MIXED_PRECISION:
            raise ConfigError(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}, "
                              f"got {self.mixed_precision!r}",
                              field="mixed_precision")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be positive, got {self.checkpoint_every}",
                              field="checkpoint_every")
        if not 0.0 <= self.min_accuracy <= 1.0:
            raise ConfigError(f"min_accuracy must be in [0, 1], got {self.min_accuracy}",
                              field="min_accuracy")
        if not 0.0 <= self.max_accuracy_drop < 1.0:
            raise ConfigError(f"max_accuracy_drop must be in [0, 1), got {self.max_accuracy_drop}",
                              field="max_accuracy_drop")
        return self

    def check_local_folders(self):
        """The folders a local run writes (--output, and --pipeline-root / --serving-dir when
        given as local paths) can be created and written, checked before any work starts:
        otherwise the run fails late, after the TensorFlow import, with a raw OS error."""
        check_writable_folder(self.output, "output")
        for field in ("pipeline_root_override", "serving_dir"):
            path = getattr(self, field)
            if path and "://" not in path:
                check_writable_folder(path, field)
        return self


def check_writable_folder(path, field):
    """Creates `path` when missing and checks that a file can be written in it; raises
    ConfigError naming `field` and the path otherwise (a file, a read-only place, ...)."""
    where = os.path.abspath(path)
    if os.path.exists(where) and not os.path.isdir(where):
        raise ConfigError(f"{field} {path!r} is a file, not a folder: give a folder (it is created "
                          "when missing)", field=field)
    try:
        os.makedirs(where, exist_ok=True)
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as e:
        raise ConfigError(f"{field} {path!r} cannot be created or written ({e.strerror or e}"
                          f"{': ' + e.filename if e.filename and e.filename != where else ''}): "
                          "choose a folder you can write to", field=field) from None


# The demo is transfer learning, offline: the backbone this project pre-trained with `bit-tfx
# pretrain` (pipeline/backbones: FRACTAL_TINY, a tiny ResNet-v2 pre-trained on a generated
# fractal corpus) fine-tuned on the embedded digits with the BiT-HyperRule's own decision (its
# 500-step schedule, resolution and augmentation) at batch 16 with the rule's learning rate
# (batch policy keep_lr, recorded), to finish in a few minutes on 2 CPU cores. At the linearly
# scaled rate (scale_lr: 9.4e-5 at batch 16) this backbone does not learn in 500 steps (eval
# accuracy 0.108, chance); docs/benchmarks.md, "The demo". The accuracy gate is set from the
# measured eval accuracy with a margin.
# `bit-tfx demo` and the runner file without BIT_TFX_CONFIG (local_runner.py) use these.
DEMO_MIN_ACCURACY = 0.15  # measured 0.225 on the 111 eval images (2026-12-02); chance is 0.1
DEMO_DEFAULTS = dict(output="demo-output", model_spec=backbones.FRACTAL_TINY.model_spec,
                     batch_size=16, batch_policy=rule.KEEP_LR, min_accuracy=DEMO_MIN_ACCURACY)
DEMO_DATA_DIR = "demo-data"      # under the demo's output folder
DEMO_PER_CLASS = 100   # 1,000 of the 1,797 digits: about 100 eval images for the gate

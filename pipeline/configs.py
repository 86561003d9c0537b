"""Pipeline-level defaults and the run configuration (TFX template style).

Feature keys and artifact file names live in core/keys.py, the Trainer's defaults in
models/training/config.py and the HyperRule's in core/rule.py; this file
holds what a user configures per run, with its defaults (those, where a component has one), and
the checks that reject an invalid configuration before any component runs.
"""
import dataclasses
import os
import re
import tempfile
from typing import List, Optional

from ..core import keys
from ..core.errors import ConfigError
from ..core import rule, upstream
from ..core.options import HyperRuleOptions
from ..core.settings import PARSE_JSON_OBJECT, PARSE_RATIO, from_attributes, setting
from ..models.training.config import TrainerConfig  # pure Python
from ..datasets import digits
from ..models import backbones
from . import redact

PIPELINE_NAME = keys.DEFAULT_PIPELINE_NAME
# DirectRunner defaults for local runs: in-memory, one worker. Multi-processing pays
# a worker start-up cost that a small local dataset never earns back.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
DEFAULT_MODEL_SPEC = TrainerConfig.model_spec  # BiT-M-R50x1 from TF Hub (the Trainer's declaration)
# Pre-training starts from a randomly initialised BiT-R50x1 unless --model continues from one.
PRETRAIN_MODEL_SPEC = "random:R50x1"
DEFAULT_MIN_ACCURACY = 0.5
SERVING_DIR = "serving"      # under --output: the pushed versions of a fine-tuning run
BACKBONES_DIR = "backbones"  # under --output: the pushed backbones of a pre-training run
LOGS_DIR = "logs"            # under --output: each command's full log (libraries included), <time>-<pid>.log
PRETRAIN_PIPELINE_NAME = PIPELINE_NAME + "-pretrain"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")




@dataclasses.dataclass(kw_only=True)
class RunConfig(HyperRuleOptions, TrainerConfig):
    """What a user configures per run. The HyperRule's settings (HyperRuleOptions: preserve_*,
    batch_size, batch_policy, k_shot, class_weighted, head_init, schedule_override, seed) and
    the Trainer's (TrainerConfig: model_spec, linear_probe, freeze_until, mixed_precision,
    checkpoint_every, log_every, max_image_pixels) are inherited from their one declaration;
    the fields below are the run's own."""
    data: str = setting(
        help="image folder (root/<label>/..., or root/train|eval/<label>/...), a CSV manifest "
             "path,label[,split], or TFRecords; {span} in a name picks the newest span")
    output: str = setting("bit-tfx-output", help="pipeline root, SQLite metadata and logs go under "
                                                  "this folder (default %(default)s)")
    pipeline_name: str = setting(PIPELINE_NAME, help="default %(default)s")
    layout: str = setting(keys.LAYOUT_AUTO, choices=(keys.LAYOUT_AUTO,) + keys.LAYOUTS,
                          help="how the data is laid out (default %(default)s: detected)")
    split_ratio: tuple = setting(keys.DEFAULT_SPLIT_RATIO, metavar="TRAIN:EVAL", parse=PARSE_RATIO,
                                 help="hash split when the data has no split of its own "
                                      "(default {split_ratio})")
    max_bad_fraction: float = setting(
        keys.DEFAULT_MAX_BAD_FRACTION,
        help="fail when more than this fraction of files are not usable images (default %(default)s)")
    eval_duplicates: str = setting(
        keys.EVAL_DUPLICATES_DROP, choices=keys.EVAL_DUPLICATES_POLICIES,
        help="an image whose bytes are also in train: drop its eval copy from the evaluation "
             "(default), or keep it; either way listed in the quarantine report, the run's JSON "
             "and the report")
    beam_args: List[str] = setting(
        default_factory=lambda: list(DEFAULT_BEAM_ARGS), flag="--beam-arg", metavar="ARG",
        repeat=True,
        help="Beam pipeline argument, repeatable (default: in-memory DirectRunner); e.g. "
             "--beam-arg=--direct_running_mode=multi_processing --beam-arg "
             "--direct_num_workers=2 (both forms)")
    pipeline_root_override: Optional[str] = setting(
        None, flag="--pipeline-root", metavar="PIPELINE_ROOT",
        help="where artifacts go (default OUTPUT/pipeline_root); gs://... for Dataflow")
    # --- evaluation, pushing (bit-tfx run) ---
    serving_dir: Optional[str] = setting(
        None, help="pushed versions go to SERVING_DIR/<version>/ (default OUTPUT/{serving_folder})")
    min_accuracy: float = setting(
        DEFAULT_MIN_ACCURACY,
        help="bless only at or above this eval accuracy (default %(default)s), first run included")
    max_accuracy_drop: float = setting(
        0.0, help="allowed accuracy drop against the model now serving (default %(default)s; 0: "
                  "no regression)")
    force: bool = setting(
        False, help="train, gate and push even when the data is what the model now serving was "
                    "trained on (otherwise such a run stops with exit code {exit_nothing_new}); "
                    "every step runs again, from a fresh ingestion (as with --no-cache)")
    num_classes: Optional[int] = setting(
        None, metavar="N",
        help="number of classes, for per-class metrics (remote data is not listed at compile "
             "time)")  # a local run counts the labels (ingestion)
    # --- upstream pre-training (bit-tfx pretrain): the UpstreamRecipe replaces the HyperRule ---
    pretrain: bool = False
    upstream_schedule: str = setting(
        upstream.DEFAULT_SCHEDULE, flag="--schedule", choices=tuple(sorted(upstream.SCHEDULES)),
        help="the paper's upstream schedule: bit-s / bit-m 90 epochs (x0.1 at 30, 60, 80), bit-l "
             "40 epochs (default %(default)s)")
    upstream_overrides: Optional[dict] = setting(
        None, flag="--upstream-override", metavar="JSON", parse=PARSE_JSON_OBJECT,
        help="replace recipe values, recorded as overrides beside the recipe's own: keys "
             f"{', '.join(sorted(upstream.OVERRIDABLE))}, e.g. "
             '{"epochs": 16, "decay_epochs": [5, 11, 14], "crop_size": 64}')
    # --- validation, caching and the metadata store ---
    schema_file: Optional[str] = setting(
        None, flag="--schema", metavar="PATH",
        help="a curated schema.pbtxt (TFX ImportSchemaGen) instead of the one inferred from the "
             "statistics; the rest of the DAG validates and trains with it")
    fail_on_anomalies: bool = setting(
        False, help="stop before Transform and training when ExampleValidator finds any anomaly, "
                    "naming them (default: record them and go on)")
    enable_cache: bool = setting(
        True, flag="--no-cache",
        help="run every step again, nothing reused from the cache (default: reuse a step's "
             "result when its inputs and settings are unchanged); data the model now serving "
             "was trained on still ends 'nothing new' (exit {exit_nothing_new}): --force trains on it")
    metadata_store: Optional[str] = setting(
        None, flag="--metadata", metavar="mysql://USER[:PASSWORD]@HOST[:PORT]/DB",
        help="a shared MySQL ML Metadata store (default: {metadata_default})")

    # A help's {name}, filled by the command that offers the flag (pretrain: its folder)
    HELP_FILLS = {"span": keys.SPAN_SPEC, "split_ratio": ":".join(map(str, keys.DEFAULT_SPLIT_RATIO)),
                  "serving_folder": SERVING_DIR, "metadata_default": "SQLite at OUTPUT/metadata.sqlite"}

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
        return self.pipeline_root_override or os.path.join(os.path.abspath(self.output), keys.PIPELINE_ROOT_DIR)

    @property
    def metadata_path(self):
        """The embedded SQLite store (the default; unused with metadata_store)."""
        return os.path.join(os.path.abspath(self.output), keys.METADATA_FILE)

    @property
    def metadata_uri(self):
        """The store this run writes and every reader opens: the mysql:// URL of metadata_store,
        or the SQLite file's path (pipeline/metadata.py opens either)."""
        return self.metadata_store or self.metadata_path

    def trainer_config(self):
        """The Trainer's settings of this run (TrainerConfig, checked)."""
        return from_attributes(TrainerConfig, self).validate()

    def hyperrule_options(self):
        """The HyperRule's settings of this run (HyperRuleOptions), as the component takes them."""
        return from_attributes(HyperRuleOptions, self)

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
        if self.pretrain:
            upstream.check_config(self.upstream_schedule, self.batch_size, self.batch_policy,
                                  self.upstream_overrides)
            for field in ("schedule_override", "k_shot", "class_weighted"):
                if getattr(self, field) not in (None, False):
                    raise ConfigError(f"{field} is a fine-tuning (HyperRule) setting; pre-training "
                                      "follows the upstream recipe: give upstream_overrides instead",
                                      field=field)
            rule.check_seed(self.seed)
        else:
            self.hyperrule_options().check()  # raises RuleError, a ConfigError, naming the field
        self.trainer_config()  # the Trainer's own checks (TrainerConfig.validate)
        if not 0.0 <= self.min_accuracy <= 1.0:
            raise ConfigError(f"min_accuracy must be in [0, 1], got {self.min_accuracy}",
                              field="min_accuracy")
        if not 0.0 <= self.max_accuracy_drop < 1.0:
            raise ConfigError(f"max_accuracy_drop must be in [0, 1), got {self.max_accuracy_drop}",
                              field="max_accuracy_drop")
        if self.metadata_store is not None:
            parse_mysql_url(self.metadata_store)
        return self.check_schema_file()

    def check_schema_file(self):
        """A local schema_file exists and parses as a tensorflow_metadata Schema (text format),
        checked before any work starts; a remote one (gs://) is read by the step itself."""
        if self.schema_file is None or "://" in self.schema_file:
            return self
        if not os.path.isfile(self.schema_file):
            raise ConfigError(f"schema_file {self.schema_file!r} is not a file: give the path of a "
                              "schema.pbtxt (e.g. a run's ImageSchemaGen/schema/<id>/schema.pbtxt, "
                              "curated)", field="schema_file")
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import schema_pb2
        try:
            with open(self.schema_file, encoding="utf-8") as f:
                schema = text_format.Parse(f.read(), schema_pb2.Schema())
        except (OSError, UnicodeDecodeError, text_format.ParseError) as e:
            raise ConfigError(f"schema_file {self.schema_file!r} is not a Schema in protobuf text "
                              f"format ({e}): fix it, or leave --schema out to infer one",
                              field="schema_file") from None
        if not schema.feature:
            raise ConfigError(f"schema_file {self.schema_file!r} declares no feature: give a "
                              "curated schema.pbtxt, or leave --schema out to infer one",
                              field="schema_file")
        declared = {f.name: f for f in schema.feature}
        missing = [name for name in SCHEMA_REQUIRED_FEATURES if name not in declared]
        not_bytes = [name for name in SCHEMA_REQUIRED_FEATURES
                     if name in declared and declared[name].type != schema_pb2.BYTES]
        if missing or not_bytes:
            problems = ([f"declares no {', '.join(missing)}"] if missing else []) + (
                [f"declares {', '.join(not_bytes)} with another type than BYTES"] if not_bytes else [])
            raise ConfigError(
                f"schema_file {self.schema_file!r} {' and '.join(problems)}: Transform decodes "
                f"{keys.IMAGE_ENCODED!r} and reads the label from {keys.LABEL_TEXT!r} (both BYTES); "
                "start from a run's ImageSchemaGen/schema/<id>/schema.pbtxt and curate it, or "
                "leave --schema out to infer one", field="schema_file")
        return self

    def check_local_folders(self):
        """The folders a local run writes (--output, and --pipeline-root / --serving-dir when
        given as local paths) can be created and written, checked before any work starts:
        otherwise the run fails late, after the TensorFlow import, with a raw OS error.
        None of them may be --data or lie inside it, checked before anything is created."""
        self.check_outside_data()
        check_writable_folder(self.output, "output")
        for field in ("pipeline_root_override", "serving_dir"):
            path = getattr(self, field)
            if path and "://" not in path:
                check_writable_folder(path, field)
        return self


    def check_outside_data(self):
        """--output, and a --pipeline-root / --serving-dir, must lie outside --data: a run writes
        metadata.sqlite and pipeline_root/ there, and a folder inside the data would be read as
        a class by this run and every later one. (--data inside --output is fine: the demo
        writes its data under its own output.) Creates nothing; raises ConfigError."""
        for field in ("output", "pipeline_root_override", "serving_dir"):
            path = getattr(self, field)
            if path and _inside(path, self.data):
                where = "is" if _same(path, self.data) else "is inside"
                raise ConfigError(
                    f"{field} {path!r} {where} --data {self.data!r}: a run writes its folders "
                    f"({keys.METADATA_FILE}, {keys.PIPELINE_ROOT_DIR}/, serving/) there, which "
                    "would be read as data (a class folder) by this and every later run; give "
                    "a folder outside the data (the data folder is only read)", field=field)
        return self


def _real(path):
    return path.rstrip("/") if "://" in path else os.path.realpath(path)


def _same(path, data):
    return _real(path) == _real(data)


def _inside(path, data):
    """True when `path` is the folder `data` or lies under it; a {SPAN} segment of `data`
    stands for any span folder (`root/span-{SPAN}`: inside `root/span-7`). Lexical for gs://
    paths; local paths with symbolic links resolved. A path never lies inside a file."""
    if ("://" in path) != ("://" in data):
        return False
    segments = _real(data).split("/")
    span_at = next((i for i, seg in enumerate(segments) if keys.SPAN_SPEC in seg), None)
    base = "/".join(segments[:span_at]) if span_at is not None else "/".join(segments)
    target = _real(path)
    if target != base and not target.startswith(base.rstrip("/") + "/"):
        return False
    if span_at is None:
        return True
    # Each segment from the span on must match (a {SPAN} matches digits).
    rest = target[len(base):].strip("/").split("/")
    wanted = segments[span_at:]
    if len(rest) < len(wanted):
        return False
    return all(re.fullmatch(re.escape(w).replace(re.escape(keys.SPAN_SPEC), r"\d+"), r)
               for w, r in zip(wanted, rest))


MYSQL_SCHEME = "mysql"
MYSQL_DEFAULT_PORT = 3306
_MYSQL_FORM = "mysql://user[:password]@host[:port]/database"
# The features a curated schema (--schema) must declare: what Transform reads (models/preprocessing.py).
SCHEMA_REQUIRED_FEATURES = (keys.IMAGE_ENCODED, keys.LABEL_TEXT)
# The metadata store's password, kept off the command line (the URL then names none).
METADATA_PASSWORD_ENV = "BIT_TFX_METADATA_PASSWORD"
METADATA_PASSWORD_FILE_ENV = "BIT_TFX_METADATA_PASSWORD_FILE"


@dataclasses.dataclass(frozen=True)
class MySQLStore:
    """A metadata_store URL, parsed (parse_mysql_url). The password never shows in its repr."""
    host: str
    port: int
    database: str
    user: str
    password: str = dataclasses.field(repr=False)

    def url(self, password=None):
        """The URL without the password (for messages, logs and the folder's record), or with
        `password` in its place (e.g. "PASSWORD" in an instruction)."""
        secret = f":{password}" if password else ""
        return f"{MYSQL_SCHEME}://{self.user}{secret}@{self.host}:{self.port}/{self.database}"


def parse_mysql_url(url):
    """The MySQLStore of a metadata_store URL; ConfigError naming the form otherwise. The
    password is optional (an empty one is sent)."""
    from urllib.parse import unquote, urlsplit
    parts = urlsplit(url or "")
    try:
        port = parts.port or MYSQL_DEFAULT_PORT
    except ValueError:
        port = None
    database = parts.path.lstrip("/")
    problem = ("its scheme must be mysql" if parts.scheme != MYSQL_SCHEME else
               "it names no user" if not parts.username else
               "it names no host" if not parts.hostname else
               "its port is not a TCP port" if port is None else
               "it names no database" if not database or "/" in database else
               "it has a query or fragment" if parts.query or parts.fragment else None)
    if problem:
        shown = url if not parts.password else url.replace(":" + parts.password + "@", ":***@")
        raise ConfigError(f"metadata_store {shown!r} is not a MySQL URL ({problem}): give "
                          f"{_MYSQL_FORM}, or leave it out for SQLite in the output folder",
                          field="metadata_store")
    password = unquote(parts.password or "") or metadata_password_from_environment()
    redact.secret(password)
    return MySQLStore(host=parts.hostname, port=port, database=unquote(database),
                      user=unquote(parts.username), password=password)


def metadata_password_from_environment():
    """The metadata store's password where the URL gives none: BIT_TFX_METADATA_PASSWORD, or the
    content of the file BIT_TFX_METADATA_PASSWORD_FILE names (a Kubernetes / Docker secret; one
    trailing line break dropped); "" when neither is set."""
    password = os.environ.get(METADATA_PASSWORD_ENV)
    if password:
        return password
    path = os.environ.get(METADATA_PASSWORD_FILE_ENV)
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{METADATA_PASSWORD_FILE_ENV}={path!r} cannot be read ({e.strerror or e}): "
                          "point it at the file holding the metadata store's password",
                          field="metadata_store") from None
    return text[:-1] if text.endswith("\n") else text


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
# pretrain` (models/backbones: FRACTAL_SMALL, a small ResNet-v2 pre-trained on a generated
# fractal corpus) fine-tuned on the embedded digits with the BiT-HyperRule's own decision (its
# 500-step schedule and resolution, the digits' task semantics: no flip, no random crop,
# datasets/digits.py), the head started from a linear probe (LP-FT, the product's default), at batch 16
# with the rule's learning rate scaled linearly (scale_lr: 0.003 x 16/512, the rule's rate per
# example), to finish in a few minutes on 2 CPU cores; docs/benchmarks.md, "The demo".
# The gate is what a user needs of a digit classifier, fixed before it was measured: 0.80 (a
# logistic regression on the raw 8x8 pixels scores 0.96; chance is 0.10).
# `bit-tfx demo` and the runner file without BIT_TFX_CONFIG (local_runner.py) use these.
DEMO_MIN_ACCURACY = 0.80
DEMO_DEFAULTS = dict(output="demo-output", model_spec=backbones.FRACTAL_SMALL.model_spec,
                     batch_size=16, batch_policy=rule.SCALE_LR, min_accuracy=DEMO_MIN_ACCURACY,
                     preserve_orientation=digits.PRESERVE_ORIENTATION,
                     preserve_count=digits.PRESERVE_COUNT)
DEMO_DATA_DIR = "demo-data"      # under the demo's output folder
DEMO_PER_CLASS = 100   # 1,000 of the 1,797 digits: about 100 eval images for the gate

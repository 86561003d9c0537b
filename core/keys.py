"""The one home for feature keys, split names, artifact file names, defaults, pipeline node
ids and artifact keys.

Pure Python: importing this module must never import TensorFlow, so that the
rule modules and the CLI's argument checking stay fast.
"""

# --- tf.Example feature keys (the common TF image feature names) -----------
IMAGE_ENCODED = "image/encoded"      # original bytes, untouched
IMAGE_FORMAT = "image/format"        # jpeg | png | gif | bmp
IMAGE_HEIGHT = "image/height"        # int64, stored pixel rows (EXIF not applied)
IMAGE_WIDTH = "image/width"          # int64, stored pixel columns
LABEL_TEXT = "image/class/text"      # label name as given (folder name / CSV)
FILENAME = "image/filename"          # path relative to the input root

# Formats the pipeline decodes end to end (PIL name -> image/format value).
SUPPORTED_FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "BMP": "bmp"}

# --- transformed features (outputs of the Transform graph) --------------------
IMAGE_TRAIN = "image_train"          # float [resize, resize, 3] in [0, 1]: random-crop source
IMAGE = "image"                      # float [crop, crop, 3] in [0, 1]: evaluation and serving
LABEL_ID = "label_id"                # int64 index into the label vocabulary
LABEL_VOCABULARY = "labels"          # tf.Transform vocabulary file name (class names)

# --- splits ------------------------------------------------------------------
TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
SPLIT_NAMES = (TRAIN_SPLIT, EVAL_SPLIT)
# Folder / CSV names accepted for each split (case-insensitive).
SPLIT_ALIASES = {
    "train": TRAIN_SPLIT,
    "eval": EVAL_SPLIT,
    "val": EVAL_SPLIT,
    "valid": EVAL_SPLIT,             # Kaggle / Roboflow exports: train/ valid/ test/
    "validation": EVAL_SPLIT,
    "test": EVAL_SPLIT,
}
DEFAULT_SPLIT_RATIO = (9, 1)  # train : eval hash buckets
# The data layouts ImageExampleGen reads (components/image_example_gen/sources.py); "auto" detects one.
LAYOUTS = ("class_folders", "split_folders", "csv", "tfrecord")
LAYOUT_AUTO = "auto"

# --- files that are never data ------------------------------------------------
# Hidden files and folders (".*": .DS_Store, AppleDouble "._*", .git*) and the metadata files
# operating systems leave in folders: skipped wherever they are (ingestion and predict) and
# never counted as bad files.
OS_METADATA_FILES = ("thumbs.db", "desktop.ini")  # compared in lower case


def is_hidden_or_os_metadata(name):
    """True for a file or folder name that holds no data: hidden, or OS metadata."""
    return name.startswith(".") or name.lower() in OS_METADATA_FILES


# --- ingestion limits ----------------------------------------------------------
DEFAULT_MAX_BAD_FRACTION = 0.01
# A decoded image this large (~ 8k x 11k RGB) is refused as a decompression bomb.
# Identical images in train and eval: their eval copies dropped from the eval split (default),
# or kept (--eval-duplicates keep).
EVAL_DUPLICATES_DROP = "drop"
EVAL_DUPLICATES_KEEP = "keep"
EVAL_DUPLICATES_POLICIES = (EVAL_DUPLICATES_DROP, EVAL_DUPLICATES_KEEP)
# More images than this sharing one perceptual hash (other bytes each) are not called
# near-duplicates: the hash cannot tell such images apart (smooth gradients, plain backgrounds).
NEAR_DUPLICATE_MAX_GROUP = 4
# A train class with fewer than this fraction of the largest class's images is named (a warning).
IMBALANCE_RATIO = 0.1
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # PIL's own warning threshold (0.25 GiB @ 24 bpp)

# --- quarantine reasons (bad files: counted towards max_bad_fraction) ------------
NON_UTF8_NAME = "non_utf8_name"      # a file name that is not UTF-8: shown with \x escapes
MISSING_FILE = "missing_file"        # listed (or named by a manifest row) but not there

# --- reading input files (ingestion): I/O errors are retried, never quarantined -----
READ_TRIES = 4                  # tries per file before the run stops, naming the file
READ_FIRST_WAIT_S = 0.5         # wait before the 2nd try; doubles each time (0.5, 1, 2 s)

# --- what a local run writes under --output (never inside --data) ---------------
METADATA_FILE = "metadata.sqlite"
PIPELINE_ROOT_DIR = "pipeline_root"
SPAN_SPEC = "{SPAN}"                 # in --data: every run takes the newest span

# --- files written inside artifacts ------------------------------------------
QUARANTINE_DIR = "quarantine"
QUARANTINE_REPORT = "quarantine_report.json"
HYPERPARAMETERS_FILE = "hyperparameters.json"
# Transform's custom_config key under which the decision reaches preprocessing_fn.
HYPERRULE_CUSTOM_CONFIG = "hyperrule"
SCHEMA_FILE = "schema.pbtxt"          # a Schema artifact's file (ImageSchemaGen writes it)
# Beside the SavedModel in every pushed version (TF Serving ignores the folder): the model
# card, and the schema of the data the model was trained on (the next span's drift baseline).
ASSETS_EXTRA_DIR = "assets.extra"
SAVED_MODEL_PB = "saved_model.pb"

# --- the serving baseline (components/serving) ----------------------------------
# Custom properties of ServingBaseline's outputs: 1 when a served model (or its schema) is
# in the artifact, 0 when nothing is served; where it was found, or why nothing was.
SERVED_PROPERTY = "served"
SERVED_FROM_PROPERTY = "served_from"
NOT_SERVED_REASON_PROPERTY = "not_served_because"
# On the Evaluator's blessing: the served version the candidate was compared with.
BASELINE_SERVED_FROM_PROPERTY = "baseline_served_from"
# "Nothing new" (no training on the data the serving model was trained on). Every pushed
# version records what data it was trained on (ModelCardGen writes the file beside the card);
# ServingBaseline compares this run's Examples with it and marks its `model` output: `train`
# 1 (new data, nothing served, no record, or forced) or 0 (the same data), with the reason.
# The training branch of the DAG runs under tfx.dsl.Cond(train == 1).
TRAINING_DATA_FILE = "training_data.json"    # in assets.extra/ of every pushed version
TRAIN_PROPERTY = "train"
TRAIN_BECAUSE_PROPERTY = "train_because"
NOTHING_NEW_BECAUSE_PROPERTY = "nothing_new_because"
SERVED_TRAINING_DATA_PROPERTY = "served_training_data"  # the served version's record (JSON)
# What identifies the data an Examples artifact was made from: TFX's file-based ExampleGen
# custom properties (tfx.components.example_gen.utils *_PROPERTY_NAME; test_keys checks them).
SPAN_PROPERTY = "span"
VERSION_PROPERTY = "version"
INPUT_FINGERPRINT_PROPERTY = "input_fingerprint"

# --- pipeline defaults ---------------------------------------------------------
DEFAULT_PIPELINE_NAME = "bit-tfx"
# In a run's output folder when its ML Metadata is in MySQL: the store's URL, no password.
METADATA_STORE_RECORD = "metadata_store.json"

# --- pipeline node ids (the DAG's component ids, as MLMD and the compiled spec record them) --
# TFX names a node after its class (no node is renamed with with_id()). Every reader of a
# finished run (runner, results, report, compile, tests) names nodes through these;
# tests/test_keys.py checks them against the built DAG.
NODE_IMAGE_EXAMPLE_GEN = "ImageExampleGen"    # image folders and CSV manifests
NODE_IMPORT_EXAMPLE_GEN = "ImportExampleGen"  # TFRecords already in our feature format
NODE_STATISTICS = "StatisticsGen"
NODE_SCHEMA = "ImageSchemaGen"
NODE_IMPORT_SCHEMA = "ImportSchemaGen"        # --schema: a curated schema instead
SCHEMA_NODES = (NODE_SCHEMA, NODE_IMPORT_SCHEMA)  # one of them runs
NODE_VALIDATOR = "ExampleValidator"
NODE_DRIFT = "SpanDriftValidator"
NODE_ANOMALIES_GATE = "AnomaliesGate"         # --fail-on-anomalies: stops before Transform
NODE_HYPERRULE = "HyperRule"
NODE_UPSTREAM_RECIPE = "UpstreamRecipe"       # bit-tfx pretrain: HyperRule's sibling
DECISION_NODES = (NODE_HYPERRULE, NODE_UPSTREAM_RECIPE)  # one of them runs
NODE_TRANSFORM = "HyperRuleTransform"
NODE_TRAINER = "Trainer"
NODE_EVALUATOR = "Evaluator"
NODE_MODEL_CARD = "ModelCardGen"
NODE_SERVING_BASELINE = "ServingBaseline"
NODE_PUSHER = "Pusher"
EXAMPLE_GEN_NODES = (NODE_IMAGE_EXAMPLE_GEN, NODE_IMPORT_EXAMPLE_GEN)  # one of them runs

# --- artifact keys (component input/output names; MLMD records them in each event's path) --
# The values of TFX's tfx.types.standard_component_specs *_KEY (tests/test_keys.py checks
# them), spelled here so that pure modules can name them without importing TFX.
EXAMPLES_KEY = "examples"
STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
ANOMALIES_KEY = "anomalies"
HYPERPARAMETERS_KEY = "hyperparameters"      # HyperRule's output; Transform, Trainer, card input
TRANSFORM_GRAPH_KEY = "transform_graph"
TRANSFORMED_EXAMPLES_KEY = "transformed_examples"
MODEL_KEY = "model"
BASELINE_MODEL_KEY = "baseline_model"        # Evaluator input
MODEL_BLESSING_KEY = "model_blessing"        # Pusher input
MODEL_RUN_KEY = "model_run"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
PUSHED_MODEL_KEY = "pushed_model"
# execution properties MLMD records (TFX's names too)
INPUT_BASE_KEY = "input_base"                # ExampleGen's source folder; ModelCardGen's too
CUSTOM_CONFIG_KEY = "custom_config"          # the Trainer's custom_config (JSON)

# --- fine-tuning ---------------------------------------------------------------------------
# Where `--freeze-until BLOCK` may stop: the native ResNet-v2's layer-name prefixes in forward
# order (models/bit/resnet_v2.py names its layers so; tests check it). Freezing
# through block3 trains block4, the final GroupNorm and the head.
BACKBONE_BLOCKS = ("root_block", "block1", "block2", "block3", "block4")

# --- the pushed model's serving contract (models/export/saved_model.py) ------------------
# Signature names, their inputs and outputs, and the files every pushed version carries under
# assets.extra/ (TF Serving loads only saved_model.pb and variables/; it reads the warm-up
# file from this exact place, and ignores everything else there).
SIGNATURE_CLASSIFY = "serving_default"        # image_bytes -> classes, scores (all classes)
SIGNATURE_TOP_K = "serving_top_k"             # image_bytes, k -> classes, scores (k per row)
SIGNATURE_EMBEDDINGS = "serving_embeddings"   # image_bytes -> embedding, embedding_l2
SIGNATURE_EXAMPLES = "serving_examples"       # serialized tf.Example -> probabilities (TFMA)
SIGNATURE_TRANSFORM = "transform_features"    # serialized tf.Example -> Transform outputs
INPUT_IMAGE_BYTES = "image_bytes"
INPUT_K = "k"
INPUT_EXAMPLES = "examples"                 # serving_examples, transform_features
OUTPUT_PROBABILITIES = "probabilities"       # serving_examples; the TFLite classifier
OUTPUT_CLASSES = "classes"
OUTPUT_SCORES = "scores"
OUTPUT_EMBEDDING = "embedding"                # the pre-logits vector, as the head sees it
OUTPUT_EMBEDDING_L2 = "embedding_l2"          # the same, L2-normalised (cosine search)
ASSETS_EXTRA = ASSETS_EXTRA_DIR
# The backbone alone (images -> pre-logits), for warm starts and downstream fine-tuning: in TF
# Hub layout (every pushed version) and, for a pushed `bit-tfx pretrain` backbone, also as an
# .npz in the official BiT naming (with its upstream head, as the published BiT-M files).
BACKBONE_DIR = ASSETS_EXTRA + "/backbone"
BACKBONE_NPZ = ASSETS_EXTRA + "/backbone.npz"
WARMUP_FILE = ASSETS_EXTRA + "/tf_serving_warmup_requests"
TFLITE_DIR = ASSETS_EXTRA + "/tflite"
TFLITE_FLOAT32 = "model_float32.tflite"       # float32 weights and activations
TFLITE_DYNAMIC_RANGE = "model_dynamic_range.tflite"  # int8 weights, float activations
TFLITE_LABELS = "labels.txt"                  # TFLite metadata's TENSOR_AXIS_LABELS format
TFLITE_INFO = "tflite.json"                   # input shape, value range, tolerances, sizes

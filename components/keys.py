"""The one home for feature keys, split names, artifact file names and defaults.

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
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")

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
    "validation": EVAL_SPLIT,
    "test": EVAL_SPLIT,
}
DEFAULT_SPLIT_RATIO = (9, 1)  # train : eval hash buckets

# --- ingestion limits ----------------------------------------------------------
DEFAULT_MAX_BAD_FRACTION = 0.01
# A decoded image this large (~ 8k x 11k RGB) is refused as a decompression bomb.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # PIL's own warning threshold (0.25 GiB @ 24 bpp)

# --- files written inside artifacts ------------------------------------------
QUARANTINE_DIR = "quarantine"
QUARANTINE_REPORT = "quarantine_report.json"
HYPERPARAMETERS_FILE = "hyperparameters.json"
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

# --- pipeline defaults ---------------------------------------------------------
DEFAULT_PIPELINE_NAME = "bit-tfx"

# --- pipeline node ids (the DAG's component ids, as MLMD records them) ----------
# TFX names a node after its class unless with_id() says otherwise; every reader of a
# finished run (results, report, compile) names nodes through these.
NODE_STATISTICS = "StatisticsGen"
NODE_HYPERRULE = "HyperRule"
NODE_TRAINER = "Trainer"
NODE_EVALUATOR = "Evaluator"
NODE_SERVING_BASELINE = "ServingBaseline"
NODE_PUSHER = "Pusher"

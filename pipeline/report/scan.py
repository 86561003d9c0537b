"""The confused-examples scan: the Trainer's model (its `serving_examples` signature) over
the first eval examples, and the wrong predictions, most confident first, with thumbnails.
TensorFlow and PIL are imported inside the functions."""
import base64
import gc
import io
import os

from ...core import keys

CONFUSED_SHOWN = 16          # wrong predictions shown, most confident first
THUMBNAIL_PIXELS = 96
SCAN_BATCH = 32


def thumbnail(encoded):
    """A small PNG data: URI of an encoded image, or None when PIL cannot read it (TF decoded
    it for training; PIL is only the preview)."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(encoded)) as image:
            image = image.convert("RGB")
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            out = io.BytesIO()
            image.save(out, "PNG")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def most_confused(examples_uri, model_uri, classes, max_examples):
    """Runs the Trainer model's `serving_examples` signature over the first `max_examples`
    eval-split examples; the wrong predictions, most confident first."""
    import numpy as np
    import tensorflow as tf
    from tfx.utils import path_utils
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{keys.EVAL_SPLIT}", "*")))
    records = [r.numpy() for r in
               tf.data.TFRecordDataset(files, compression_type="GZIP").take(max_examples)]
    model = tf.saved_model.load(path_utils.serving_model_path(model_uri))
    predict = model.signatures[keys.SIGNATURE_EXAMPLES]
    wrong = []
    for start in range(0, len(records), SCAN_BATCH):
        batch = records[start:start + SCAN_BATCH]
        outputs = predict(**{keys.INPUT_EXAMPLES: tf.constant(batch)})
        probabilities = outputs[keys.OUTPUT_PROBABILITIES].numpy()
        for record, p in zip(batch, probabilities):
            feature = tf.train.Example.FromString(record).features.feature
            true = feature[keys.LABEL_TEXT].bytes_list.value[0].decode("utf-8")
            best = int(np.argmax(p))
            if classes[best] != true:
                wrong.append({"file": feature[keys.FILENAME].bytes_list.value[0].decode("utf-8"),
                              "true": true, "predicted": classes[best], "confidence": float(p[best]),
                              "true_probability": float(p[classes.index(true)]) if true in classes else None,
                              "encoded": feature[keys.IMAGE_ENCODED].bytes_list.value[0]})
    # Free the loaded model's functions now: collected at interpreter exit instead, TensorFlow
    # prints "Exception ignored in AtomicFunction.__del__" after the run's result.
    del predict, model
    gc.collect()
    wrong.sort(key=lambda w: -w["confidence"])
    shown = [dict(w, thumbnail=thumbnail(w.pop("encoded"))) for w in wrong[:CONFUSED_SHOWN]]
    return {"max_examples": max_examples, "scanned": len(records), "wrong": len(wrong), "shown": shown}

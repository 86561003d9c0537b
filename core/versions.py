"""The versions under a serving directory, as TF Serving sees them.

The Pusher writes `<serving_dir>/<unix time>/` and copies saved_model.pb last, so a numeric
folder without saved_model.pb is a push still under way (or one that failed half-way). TF
Serving serves the highest complete version; so does everything here that means "the model
now serving": the Evaluator's baseline (components/serving) and `bit-tfx predict`.
TensorFlow's file system (local paths and gs://) is imported only when a folder is listed.
"""
import os

from . import keys


def pushed_versions(serving_dir):
    """({version number: folder} of the complete versions, [incomplete numeric folders]).
    A missing serving_dir has no versions (nothing was pushed yet)."""
    import tensorflow as tf
    if not tf.io.gfile.isdir(serving_dir):
        return {}, []
    complete, incomplete = {}, []
    for name in tf.io.gfile.listdir(serving_dir):
        name = name.rstrip("/")
        if not name.isdigit():
            continue
        folder = os.path.join(serving_dir, name)
        if tf.io.gfile.exists(os.path.join(folder, keys.SAVED_MODEL_PB)):
            complete[int(name)] = folder
        else:
            incomplete.append(folder)
    return complete, sorted(incomplete)


def serving_version(serving_dir):
    """(the folder of the version TF Serving serves, or None; why not, or None)."""
    complete, incomplete = pushed_versions(serving_dir)
    if complete:
        return complete[max(complete)], None
    reason = f"no version under {serving_dir} (nothing pushed yet)"
    if incomplete:
        reason = (f"no complete version under {serving_dir}: {len(incomplete)} numeric folder(s) "
                  f"without {keys.SAVED_MODEL_PB} ({', '.join(incomplete)})")
    return None, reason

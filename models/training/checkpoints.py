"""Where the Trainer checkpoints, and which checkpoint a re-run resumes from.

tf.train.CheckpointManager writes a checkpoint's files (ckpt-N.data-*, then ckpt-N.index)
and only afterwards names it in the `checkpoint` state file. A VM preempted between the
two leaves a complete ckpt-N that the state file does not name; one preempted while
writing leaves a partial ckpt-N. `restore_latest` therefore looks at every ckpt-N in the
directory, newest first: one the state file names is complete; any newer one is read
back in full (every tensor, checksums included) before it is trusted.

Under MultiWorkerMirroredStrategy every worker must take part in a save, but only the
chief's copy is kept: other workers write into a scratch folder of their own and every
worker resumes from the chief's.
"""
import logging
import os
import re
import time

import tensorflow as tf

log = logging.getLogger("bit_tfx.trainer")
MAX_TO_KEEP = 2
_NUMBERED = re.compile(r"^ckpt-(\d+)\.index$")


def scratch_directory(directory, task_id):
    """Where a worker other than the chief saves (and then deletes) its copy."""
    return os.path.join(directory, f"worker-{task_id}-scratch")


def _numbered(directory):
    """ckpt-N prefixes that have an index file, newest first."""
    if not tf.io.gfile.isdir(directory):
        return []
    found = [(int(m.group(1)), os.path.join(directory, m.group(0)[:-len(".index")]))
             for m in map(_NUMBERED.match, tf.io.gfile.listdir(directory)) if m]
    return [prefix for _, prefix in sorted(found, reverse=True)]


def _reads_back_whole(prefix):
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
        return True
    except (tf.errors.OpError, ValueError, IndexError) as error:  # IndexError: data cut short
        log.warning("Checkpoint %s is incomplete (%s: %s); it was being written when the "
                    "Trainer stopped. Trying an older one.", prefix, type(error).__name__,
                    str(error).splitlines()[0] if str(error) else "")
        return False


def restore_latest(checkpoint, directory):
    """Restores the newest complete checkpoint in `directory` into `checkpoint`; returns
    its prefix, or None when there is none (a fresh start).

    Values of objects made later (the optimizer's momentum slots, its current learning
    rate: created by the first training step) are restored when those are created; a value
    no object takes is left alone. Without expect_partial() TensorFlow logs a "Value in
    checkpoint could not be found" warning for each value not yet taken when the restore is
    garbage-collected, on every resume."""
    recorded = tf.train.latest_checkpoint(directory)
    for prefix in _numbered(directory):
        if prefix == recorded or _reads_back_whole(prefix):
            checkpoint.restore(prefix).expect_partial()
            return prefix
    return None


def manager(checkpoint, directory, restored):
    """A CheckpointManager for `directory` that also knows (and so in time deletes) a
    restored checkpoint the state file missed."""
    state = tf.train.get_checkpoint_state(directory)
    known = list(state.all_model_checkpoint_paths) if state else []
    if restored and restored not in known:
        now = time.time()
        # Timestamps matter: the manager never deletes a checkpoint it has none for.
        stamps = list(state.all_model_checkpoint_timestamps) if state else []
        stamps = stamps if len(stamps) == len(known) else [now - 1] * len(known)
        tf.compat.v1.train.update_checkpoint_state(
            directory, restored, all_model_checkpoint_paths=known + [restored],
            all_model_checkpoint_timestamps=stamps + [now],
            last_preserved_timestamp=state.last_preserved_timestamp if state else now - 2)
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=MAX_TO_KEEP)

"""Official BiT .npz weights: resolve, read, load (strictly), save.

Why strict: a silently half-loaded backbone trains and "works", only worse. `load_npz`
fills every variable of the model or raises ONE `WeightsMismatchError` naming every
missing, unexpected and mis-shaped array. The only thing it may leave out is the head,
and only when asked (`skip_head=True`): BiT-M full files carry a 21,843-way head,
ILSVRC2012 files a 1,000-way head, BiT-S files a 1,000-way head; a downstream model has
its own. The class count is read from the file, never assumed (official bug #47).

Sources: a local path, a gs:// (or any tf.io.gfile) path, or a published name such as
`BiT-M-R50x1`, `BiT-S-R101x3`, `BiT-M-R50x1-ILSVRC2012`, which resolves to
https://storage.googleapis.com/bit_models/<name>.npz and is downloaded once into a cache
(keras.utils.get_file; default ~/.keras/bit_models). No machine of this project reaches
Cloud Storage: only the name -> URL resolution is tested here.

Input range: these weights expect pixels scaled to [-1, 1]; use `preprocess` (pixels in
[0, 255]) or `resnet_v2.from_unit_range` ([0, 1] floats).
"""
import io
import os
from typing import Dict, Optional, Tuple

import numpy as np

from . import archs
from ...core.errors import ConfigError

BASE_URL = "https://storage.googleapis.com/bit_models/"
CACHE_SUBDIR = "bit_models"


class WeightsError(ConfigError):
    """A weight source that cannot be resolved or read."""


class WeightsMismatchError(WeightsError):
    """A weight file that does not fit the model; the message lists every problem."""

    def __init__(self, source, missing, unexpected, mismatched):
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched
        lines = [f"weights {source} do not fit the model "
                 f"({len(missing)} missing, {len(unexpected)} unexpected, "
                 f"{len(mismatched)} mis-shaped):"]
        lines += [f"  missing in file: {n} (model shape {s})" for n, s in missing]
        lines += [f"  unexpected in file: {n} (file shape {s})" for n, s in unexpected]
        lines += [f"  shape mismatch: {n}: model {m}, file {f}" for n, m, f in mismatched]
        if any("/head/" in n for n, *_ in missing + unexpected + mismatched):
            lines.append("  (head arrays differ: pass skip_head=True to load the backbone "
                         "only and keep the model's own zero-initialised head)")
        super().__init__("\n".join(lines))


def is_published_name(name: str) -> bool:
    return archs.published_parts(name) is not None


def published_url(name: str) -> str:
    """'BiT-M-R50x1' -> 'https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz'."""
    if not is_published_name(name):
        raise WeightsError(
            f"{name!r} is not a published BiT checkpoint: BiT-{{S,M}}-"
            f"{{{','.join(archs.PUBLISHED_NAMES)}}}[-ILSVRC2012], e.g. BiT-M-R50x1")
    return f"{BASE_URL}{name}.npz"


def arch_from_filename(path: str) -> Optional[str]:
    """The architecture named by an official file name ('.../BiT-S-R101x3.npz' -> 'R101x3')."""
    base = os.path.basename(path or "")
    if base.endswith(".npz"):
        base = base[:-4]
    parts = archs.published_parts(base)
    return parts[1] if parts else None


def resolve(source: str, cache_dir: Optional[str] = None) -> str:
    """A readable path (local or gfile) for a published name, a gs:// path or a local path."""
    if is_published_name(source):
        import tf_keras as keras
        return keras.utils.get_file(
            fname=f"{source}.npz", origin=published_url(source),
            cache_dir=cache_dir, cache_subdir=CACHE_SUBDIR)
    return source


def read_npz(source: str, cache_dir: Optional[str] = None) -> Dict[str, np.ndarray]:
    """All arrays of an .npz, read through tf.io.gfile (local, gs://, ...)."""
    import tensorflow as tf
    path = resolve(source, cache_dir)
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read()
    except (tf.errors.NotFoundError, tf.errors.OpError, OSError) as e:
        raise WeightsError(f"cannot read weights {path}: {e}") from e
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as e:
        raise WeightsError(f"{path} is not a readable .npz file: {e}") from e


def _is_head(name: str) -> bool:
    return name.startswith("resnet/head/")


def load_npz(model, source, skip_head: bool = False, cache_dir: Optional[str] = None):
    """Fill a native BiT model (or one nesting it) from official-naming arrays.

    source: a path / gs:// path / published name, or an already-read {name: array} dict.
    skip_head: False (default) = the file's head must fit the model's head exactly (or both
    have none). True = ignore head arrays in the file and leave the model's head (if any)
    as initialised; everything else must still match.
    Returns {"loaded": [...], "skipped": [...]} (official names).
    """
    from . import resnet_v2

    arrays = source if isinstance(source, dict) else read_npz(source, cache_dir)
    label = "(in-memory arrays)" if isinstance(source, dict) else str(source)
    variables = resnet_v2.official_variables(model)
    skipped = []
    if skip_head:
        skipped = sorted(n for n in set(arrays) | set(variables) if _is_head(n))
        arrays = {n: a for n, a in arrays.items() if not _is_head(n)}
        variables = {n: v for n, v in variables.items() if not _is_head(n)}

    missing, mismatched, pairs = [], [], []
    for name, var in variables.items():
        want = resnet_v2.official_shape(name, var)
        if name not in arrays:
            missing.append((name, want))
        elif tuple(arrays[name].shape) != want:
            mismatched.append((name, want, tuple(arrays[name].shape)))
        else:
            pairs.append((var, arrays[name].reshape(tuple(var.shape))))
    unexpected = [(n, tuple(a.shape)) for n, a in sorted(arrays.items()) if n not in variables]
    if missing or unexpected or mismatched:
        raise WeightsMismatchError(label, missing, unexpected, mismatched)
    for var, value in pairs:
        var.assign(value.astype(var.dtype.as_numpy_dtype))
    return {"loaded": sorted(variables), "skipped": skipped}


def model_arrays(model) -> Dict[str, np.ndarray]:
    """{official name: numpy array} of a native model, head kernel as (1, 1, C, K)."""
    from . import resnet_v2
    return {name: var.numpy().reshape(resnet_v2.official_shape(name, var))
            for name, var in resnet_v2.official_variables(model).items()}


def save_npz(model, path: str) -> str:
    """Write the model's weights under the official names (local or gs:// path)."""
    import tensorflow as tf
    buf = io.BytesIO()
    np.savez(buf, **model_arrays(model))
    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def head_classes(arrays: Dict[str, np.ndarray]) -> Optional[int]:
    """Number of classes of the head stored in a file, or None when it has no head."""
    kernel = arrays.get("resnet/head/conv2d/kernel")
    return None if kernel is None else int(kernel.shape[-1])


def shapes(arrays: Dict[str, np.ndarray]) -> Dict[str, Tuple[int, ...]]:
    return {n: tuple(a.shape) for n, a in arrays.items()}


def preprocess(images):
    """uint8-range pixels [0, 255] -> float32 in [-1, 1] ((x - 127.5) / 127.5).

    What the .npz weights (and `resnet_v2.build` models) expect: `resnet_v2.from_unit_range`
    of x / 255, the one home of that mapping; the factory's models apply it inside.
    """
    import tensorflow as tf

    from . import resnet_v2
    return resnet_v2.from_unit_range(tf.cast(images, tf.float32) / 255.0)

"""Decide, per file, whether it is an image the pipeline can train and serve on.

Two stages, cheapest first:
1. PIL reads only the header: format, size, mode. Unsupported formats and
   decompression bombs (pixel count over the limit) are refused here, before
   any pixel buffer is allocated.
2. TensorFlow's own decoder (the one Transform and the serving signature use)
   decodes the pixels to 3-channel RGB. If it fails, training would fail too,
   so the file is bad. This keeps ingestion and serving in agreement.
"""
import io
import re
import warnings

from PIL import Image, UnidentifiedImageError

from . import keys


class BadImage(Exception):
    """A file that must not become an example; `reason` is a short code."""

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def read_header(data, max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS):
    """Returns (format, height, width) from the header alone, or raises BadImage."""
    if not data:
        raise BadImage("empty_file", "the file has zero bytes")
    try:
        with warnings.catch_warnings():
            # PIL warns (and at 2x raises) on huge images; we apply our own limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                img = Image.open(io.BytesIO(data))  # lazy: reads the header only
            finally:
                Image.MAX_IMAGE_PIXELS = saved_limit
    except UnidentifiedImageError:
        raise BadImage("not_an_image", "no image header recognised: not a JPEG, PNG, GIF or BMP file, "
                                       "nor any other image format")
    except Exception as e:  # a header PIL recognises but cannot parse
        raise BadImage("not_an_image", f"the image header is corrupt ({type(e).__name__}: {e})")
    fmt = keys.SUPPORTED_FORMATS.get(img.format)
    if fmt is None:
        raise BadImage("unsupported_format",
                       f"{img.format} images are not supported; convert to one of "
                       f"{', '.join(sorted(keys.SUPPORTED_FORMATS))}")
    width, height = img.size
    if width < 1 or height < 1:
        raise BadImage("not_an_image", f"header declares a {width}x{height} image")
    if width * height > max_pixels:
        raise BadImage("decompression_bomb",
                       f"{width}x{height} = {width * height} pixels exceeds the limit of "
                       f"{max_pixels} (raise max_image_pixels if this image is genuine)")
    return fmt, height, width


def check_decodes(data):
    """Decodes with TensorFlow exactly as training and serving will; raises BadImage."""
    import tensorflow as tf  # imported lazily: only ingestion workers need it
    try:
        pixels = tf.io.decode_image(data, channels=3, expand_animations=False)
        if pixels.shape.rank != 3 or pixels.shape[-1] != 3:
            raise ValueError(f"decoded shape {pixels.shape}")
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError, ValueError) as e:
        message = getattr(e, "message", None) or str(e) or type(e).__name__
        message = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]", "", message).strip()
        raise BadImage("undecodable", f"TensorFlow cannot decode it ({message[:200]})")
    return pixels


def inspect_image(data, max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS):
    """(format, height, width) of a valid image; raises BadImage otherwise."""
    return inspect_and_hash(data, max_pixels)[:3]


def inspect_and_hash(data, max_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS):
    """(format, height, width, perceptual hash) of a valid image; raises BadImage otherwise."""
    header = read_header(data, max_pixels)
    return (*header, perceptual_hash(check_decodes(data).numpy()))


# A perceptual hash that says nothing: a flat (or flat-rowed) image, whose 64 comparisons are
# all "not brighter". Images with it are not called near-duplicates of each other.
FLAT_HASH = "0" * 16


def perceptual_hash(pixels):
    """A 64-bit difference hash (dHash, hex) of decoded RGB pixels [H, W, 3]: the image's
    luminance in 8 rows x 9 columns of block means, and whether each block is brighter than its
    left neighbour. A resized or re-encoded copy gets the same hash (or one a few bits away:
    only equal hashes are compared), unlike its bytes. On the pixels TensorFlow already
    decoded for the check above: 4 % of ingestion's time, A/B (bench/ingestion.py)."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    gray = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    if gray.shape[0] < 8 or gray.shape[1] < 9:  # fewer pixels than blocks: each one repeated
        gray = np.repeat(np.repeat(gray, 8, 0), 9, 1)
    rows = np.linspace(0, gray.shape[0], 9).astype(int)
    cols = np.linspace(0, gray.shape[1], 10).astype(int)
    sums = np.add.reduceat(np.add.reduceat(gray, rows[:-1], 0), cols[:-1], 1)
    blocks = sums / np.outer(np.diff(rows), np.diff(cols))  # means: blocks differ in size by a pixel
    return np.packbits(blocks[:, 1:] > blocks[:, :-1]).tobytes().hex()

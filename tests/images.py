"""Real image files for tests: the valid-but-unusual kinds and each kind of bad file."""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image


def _pattern(h, w, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb_jpeg(h=40, w=50, seed=0):
    return encode(Image.fromarray(_pattern(h, w, seed)), "JPEG", quality=90)


def rgb_png(h=40, w=50, seed=0):
    return encode(Image.fromarray(_pattern(h, w, seed)), "PNG")


def unusual_images(seed=0):
    """name -> bytes for images that are valid but unusual; all must be kept."""
    base = Image.fromarray(_pattern(30, 20, seed))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW on display
    frames = [Image.fromarray(_pattern(16, 16, seed + i)).convert("P") for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    sixteen = Image.fromarray((np.arange(24 * 24, dtype=np.uint16).reshape(24, 24) * 100))
    return {
        "gray.png": encode(base.convert("L"), "PNG"),
        "cmyk.jpg": encode(base.convert("CMYK"), "JPEG"),
        "alpha.png": encode(base.convert("RGBA"), "PNG"),
        "sixteen_bit.png": encode(sixteen, "PNG"),
        "exif_rotated.jpg": encode(base, "JPEG", exif=exif.tobytes()),
        "animated.gif": gif.getvalue(),
        "plain.bmp": encode(base, "BMP"),
        "palette.png": encode(base.convert("P"), "PNG"),
    }


def png_bomb(width=100_000, height=100_000):
    """A tiny PNG whose header declares width*height pixels (never decodable here)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def bad_files():
    """name -> (bytes, expected reason) for each kind of file that must be quarantined."""
    good = rgb_jpeg(64, 64, seed=7)
    return {
        "empty.jpg": (b"", "empty_file"),
        "truncated.jpg": (good[: len(good) // 2], "undecodable"),
        "notes.jpg": (b"these are my notes, not a picture\n" * 5, "not_an_image"),
        "scan.tiff": (encode(Image.fromarray(_pattern(20, 20, 3)), "TIFF"), "unsupported_format"),
        "bomb.png": (png_bomb(), "decompression_bomb"),
    }


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def class_folders(root, labels, per_class, prefix="", kind="jpeg", size=(40, 50)):
    """root/<prefix>/<label>/img_<i>.<ext> with distinct images; returns the paths."""
    paths = []
    for li, label in enumerate(labels):
        for i in range(per_class):
            data = rgb_jpeg(*size, seed=li * 1000 + i) if kind == "jpeg" else rgb_png(*size, seed=li * 1000 + i)
            path = os.path.join(root, prefix, label, f"img_{i:04d}.{'jpg' if kind == 'jpeg' else 'png'}")
            write(path, data)
            paths.append(path)
    return paths

"""The serving base every exported model shares (models/bit/signatures.py): image
sizes read from headers, and the pixel limit that refuses a decompression bomb before it
is decoded. Real files made here, a real tiny classifier behind the real signature."""
import io
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import images
from bit_tfx.core import keys
from bit_tfx.models.bit import factory, imagenet, signatures
from bit_tfx.models import predict


def huge_png(width=12000, height=12000):
    """A valid 8-bit grayscale PNG of width x height zeros, compressed row by row, so that
    neither the test nor the file holds the decoded pixels (a few hundred KB)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    compressor, row, parts = zlib.compressobj(9), b"\0" * (width + 1), []
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def encoded(fmt, width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP"])
def test_header_size_is_the_decoded_size(fmt):
    data = encoded(fmt, 37, 21)
    height, width = signatures.header_size(tf.constant(data)).numpy()
    assert (height, width) == (21, 37) == tuple(tf.io.decode_image(data, expand_animations=False).shape[:2])


def test_header_size_of_no_image_is_zero():
    assert signatures.header_size(tf.constant(b"not an image")).numpy().tolist() == [0, 0]
    assert signatures.header_size(tf.constant(b"")).numpy().tolist() == [0, 0]


class TinyServing(signatures.BytesServingModule):
    def _images_from_bytes(self, image_bytes):
        return signatures.decode_and_resize(image_bytes, 32)


@pytest.fixture(scope="module")
def tiny_serving():
    model = factory.build_classifier("random:tiny", num_classes=3)
    return TinyServing(model, ["a", "b", "c"], name="tiny")


def test_a_12000_square_png_is_refused_before_decoding_and_a_normal_image_is_not(tiny_serving):
    bomb = huge_png()
    assert len(bomb) < 1_000_000 and 12000 * 12000 > keys.DEFAULT_MAX_IMAGE_PIXELS
    normal = images.rgb_png(50, 40, seed=1)
    out = tiny_serving.serve_bytes(tf.constant([normal]))
    assert out["classes"].shape == [1, 3]
    with pytest.raises(tf.errors.InvalidArgumentError) as refused:
        tiny_serving.serve_bytes(tf.constant([normal, bomb]))
    reason = predict.error_reason(refused.value)
    assert ("image 1 of the request is 12000x12000 pixels (width x height, from its header) = "
            f"144000000 pixels, above the limit of this model, {keys.DEFAULT_MAX_IMAGE_PIXELS} pixels "
            "(max_image_pixels)") in reason, reason


def test_the_limit_is_the_module_s_own(tiny_serving):
    small_limit = TinyServing(tiny_serving.classifier, ["a", "b", "c"], name="t", max_pixels=100)
    with pytest.raises(tf.errors.InvalidArgumentError, match="above the limit of this model, 100 pixels"):
        small_limit.serve_bytes(tf.constant([encoded("JPEG", 11, 10)]))
    assert small_limit.serve_bytes(tf.constant([encoded("JPEG", 10, 10)]))["scores"].shape == [1, 3]


def test_imagenet_classifiers_parse_hub_handles_with_the_spec_s_checks():
    with pytest.raises(imagenet.bit_spec.ModelSpecError, match="unsupported URL scheme 'ftp'"):
        imagenet.parse("hub:ftp://x")
    url = "https://tfhub.dev/google/bit/m-r50x1/ilsvrc2012_classification/1"
    assert imagenet.parse(f"hub:{url}").location == url
    assert imagenet.parse(url).location == url
    with pytest.raises(imagenet.bit_spec.ModelSpecError, match="classification module"):
        imagenet.bit_spec.parse(f"hub:{url}")


def test_native_model_keeps_or_drops_the_head_and_takes_unit_range():
    from bit_tfx.models.bit import resnet_v2, weights
    from test_bit_model_resnet import random_official_arrays
    net = resnet_v2.build("tiny", num_classes=7)
    arrays = random_official_arrays(net, seed=3)
    weights.load_npz(net, arrays)
    u = np.random.default_rng(0).random((1, 32, 32, 3)).astype(np.float32)
    kept = factory.native_model(arrays, keep_head=True)
    np.testing.assert_allclose(kept(u).numpy(), net(u * 2 - 1).numpy(), atol=1e-5)
    dropped = factory.native_model(arrays, "tiny", keep_head=False)
    assert dropped(u).shape == (1, 1024)

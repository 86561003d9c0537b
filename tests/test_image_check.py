"""Which files become examples: unusual images are kept, each bad kind is refused."""
import tracemalloc

import numpy as np
import pytest
import tensorflow as tf

import images
from bit_tfx.core import image_check


@pytest.mark.parametrize("name", sorted(images.unusual_images()))
def test_unusual_images_are_valid_and_decode_to_rgb(name):
    data = images.unusual_images()[name]
    fmt, height, width = image_check.inspect_image(data)
    # What Transform/serving will do: the stored pixel grid, 3 channels, uint8.
    pixels = tf.io.decode_image(data, channels=3, expand_animations=False)
    assert pixels.shape == (height, width, 3) and pixels.dtype == tf.uint8
    assert fmt in ("jpeg", "png", "gif", "bmp")


def test_cmyk_and_gray_come_out_as_plain_rgb():
    data = images.unusual_images()["gray.png"]
    pixels = tf.io.decode_image(data, channels=3).numpy()
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])
    cmyk = tf.io.decode_image(images.unusual_images()["cmyk.jpg"], channels=3).numpy()
    assert cmyk.std() > 10  # real colour content, not a blank or inverted-constant image


@pytest.mark.parametrize("name", sorted(images.bad_files()))
def test_each_bad_kind_is_refused_with_its_reason(name):
    data, reason = images.bad_files()[name]
    with pytest.raises(image_check.BadImage) as e:
        image_check.inspect_image(data)
    assert e.value.reason == reason and e.value.detail


def test_decompression_bomb_refused_without_allocating_it():
    bomb = images.png_bomb(100_000, 100_000)  # 10^10 pixels: 30 GB if decoded
    tracemalloc.start()
    with pytest.raises(image_check.BadImage, match="decompression_bomb"):
        image_check.inspect_image(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5 * 2**20, f"refusing the bomb allocated {peak} bytes"


def test_pixel_limit_is_configurable():
    data = images.rgb_jpeg(100, 100)
    with pytest.raises(image_check.BadImage, match="decompression_bomb"):
        image_check.inspect_image(data, max_pixels=9_999)
    assert image_check.inspect_image(data, max_pixels=10_000) == ("jpeg", 100, 100)


def test_the_perceptual_hash_tells_pictures_apart_and_survives_a_resize():
    """Blocks of unequal size (40 px into 9 columns) are compared by their means: 50 noise
    images give 50 hashes (sums made 0x55-patterned hashes that collided), and a resized,
    re-encoded copy of a picture gets the picture's hash (when its blocks differ by more than
    the re-encoding changes them: only equal hashes are compared)."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    hashes = {image_check.perceptual_hash(rng.integers(0, 256, (40, 50, 3)).astype(np.float32))
              for _ in range(50)}
    assert len(hashes) == 50
    rows, cols = np.mgrid[0:8, 0:9]
    levels = (20 + 27 * ((cols + 3 * rows) % 8)).astype(np.uint8)  # neighbours 27 or more apart
    picture = Image.fromarray(np.stack([levels] * 3, -1)).resize((90, 80), Image.NEAREST)
    copy = picture.resize((45, 40), Image.BILINEAR)
    assert image_check.inspect_and_hash(images.encode(picture, "PNG"))[3] == \
        image_check.inspect_and_hash(images.encode(copy, "JPEG", quality=95))[3]

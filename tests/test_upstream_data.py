"""The offline upstream corpus (datasets/fractals.py): deterministic, many distinct
classes, and no image shared with the downstream demo data."""
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from bit_tfx.datasets import digits, fractals


def _hashes(root):
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                found[os.path.relpath(os.path.join(folder, name), root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_ones(tmp_path):
    assert fractals.write_fractals(tmp_path / "a", num_classes=6, per_class=4) == 24
    fractals.write_fractals(tmp_path / "b", num_classes=6, per_class=4)
    fractals.write_fractals(tmp_path / "c", num_classes=6, per_class=4, seed=7)
    a, b, c = _hashes(tmp_path / "a"), _hashes(tmp_path / "b"), _hashes(tmp_path / "c")
    assert len(a) == 24 and a == b
    assert not set(a.values()) & set(c.values())
    assert sorted(os.listdir(tmp_path / "a")) == [fractals.class_name(i) for i in range(6)]


def test_every_image_is_a_distinct_shape_and_classes_have_their_own_coverage(tmp_path):
    fractals.write_fractals(tmp_path, num_classes=5, per_class=6)
    masks = {}
    for c in range(5):
        folder = tmp_path / fractals.class_name(c)
        images = [np.asarray(Image.open(folder / n).convert("L"), dtype=float) for n in sorted(os.listdir(folder))]
        assert all(img.shape == (32, 32) for img in images)
        masks[c] = [img > img.mean() for img in images]
        assert all(0.02 < m.mean() < 0.9 for m in masks[c])   # a shape, not empty, not full
        assert len({m.tobytes() for m in masks[c]}) == 6      # every image differs
    # Each class covers its own share of the canvas (on average over its images):
    share = {c: np.mean([m.mean() for m in ms]) for c, ms in masks.items()}
    assert len({round(v, 3) for v in share.values()}) == 5


def test_no_image_is_shared_with_the_downstream_demo_data(tmp_path):
    fractals.write_fractals(tmp_path / "upstream", num_classes=10, per_class=10)
    digits.write_digits(tmp_path / "digits", per_class=40)
    assert not set(_hashes(tmp_path / "upstream").values()) & set(_hashes(tmp_path / "digits").values())


def test_patch_rendering_draws_thicker_strokes_of_the_same_shapes_and_is_off_by_default(tmp_path):
    """FractalDB's patch rendering (points drawn as squares): the same images cover more of the
    canvas, and patch=1 is exactly the point rendering the shipped backbone was made from."""
    fractals.write_fractals(tmp_path / "points", num_classes=3, per_class=4)
    fractals.write_fractals(tmp_path / "one", num_classes=3, per_class=4, patch=1)
    fractals.write_fractals(tmp_path / "patch", num_classes=3, per_class=4, patch=4)
    assert _hashes(tmp_path / "points") == _hashes(tmp_path / "one")

    def coverage(root):
        return np.mean([(np.asarray(Image.open(os.path.join(d, n)).convert("L"), float) > 120).mean()
                        for d, _, names in os.walk(root) for n in names])
    assert coverage(tmp_path / "patch") > 1.2 * coverage(tmp_path / "points")
    with pytest.raises(ValueError, match="patch"):
        fractals.write_fractals(tmp_path / "bad", num_classes=1, per_class=1, patch=0)

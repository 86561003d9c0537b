"""Official-naming .npz weights: round trip, strict refusal listing every problem, heads."""
import numpy as np
import pytest
import tensorflow as tf

from bit_tfx.models.bit import resnet_v2, weights
from test_bit_model_resnet import random_official_arrays

X = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def trained_tiny():
    """A tiny classifier with every variable random (as if trained), head included."""
    model = resnet_v2.build("tiny", num_classes=6)
    weights.load_npz(model, random_official_arrays(model, seed=5))
    return model


def test_round_trip_identical_outputs(trained_tiny, tmp_path):
    path = weights.save_npz(trained_tiny, str(tmp_path / "tiny.npz"))
    with np.load(path) as f:
        assert set(f.files) == set(resnet_v2.official_variables(trained_tiny))
        assert f["resnet/head/conv2d/kernel"].shape == (1, 1, 1024, 6)
    fresh = resnet_v2.build("tiny", num_classes=6)
    report = weights.load_npz(fresh, path)
    assert report["skipped"] == [] and len(report["loaded"]) == len(fresh.weights)
    np.testing.assert_array_equal(fresh(X).numpy(), trained_tiny(X).numpy())
    assert np.abs(fresh(X).numpy()).max() > 0.1


def test_gfile_path_round_trip(trained_tiny):
    """Non-local paths go through tf.io.gfile (ram:// stands in for gs:// here)."""
    path = weights.save_npz(trained_tiny, "ram://bit-test/weights/tiny.npz")
    fresh = resnet_v2.build("tiny", num_classes=6)
    weights.load_npz(fresh, path)
    np.testing.assert_array_equal(fresh(X).numpy(), trained_tiny(X).numpy())


def test_missing_extra_and_misshaped_all_reported_at_once(trained_tiny, tmp_path):
    arrays = weights.model_arrays(trained_tiny)
    del arrays["resnet/block2/unit01/b/group_norm/beta"]                       # missing
    arrays["resnet/block5/unit01/a/standardized_conv2d/kernel"] = np.zeros((1, 1, 2, 2))  # extra
    arrays["resnet/block3/unit01/c/standardized_conv2d/kernel"] = np.zeros((1, 1, 128, 99))
    path = str(tmp_path / "bad.npz")
    np.savez(path, **arrays)
    fresh = resnet_v2.build("tiny", num_classes=6)
    before = [v.numpy().copy() for v in fresh.weights]
    with pytest.raises(weights.WeightsMismatchError) as err:
        weights.load_npz(fresh, path)
    msg = str(err.value)
    assert "1 missing, 1 unexpected, 1 mis-shaped" in msg
    assert "missing in file: resnet/block2/unit01/b/group_norm/beta (model shape (64,))" in msg
    assert "unexpected in file: resnet/block5/unit01/a/standardized_conv2d/kernel " \
           "(file shape (1, 1, 2, 2))" in msg
    assert "shape mismatch: resnet/block3/unit01/c/standardized_conv2d/kernel: " \
           "model (1, 1, 128, 512), file (1, 1, 128, 99)" in msg
    # nothing was half-loaded
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, fresh.weights))


def test_head_mismatch_refused_unless_skip_head(trained_tiny):
    arrays = weights.model_arrays(trained_tiny)              # 6-way head
    other = resnet_v2.build("tiny", num_classes=1000)        # e.g. an ILSVRC2012-sized head
    with pytest.raises(weights.WeightsMismatchError, match="skip_head=True"):
        weights.load_npz(other, arrays)
    report = weights.load_npz(other, arrays, skip_head=True)
    assert report["skipped"] == ["resnet/head/conv2d/bias", "resnet/head/conv2d/kernel"]
    head = other.get_layer(resnet_v2.HEAD_NAME)
    assert not np.any(head.kernel.numpy()) and not np.any(head.bias.numpy())
    feats = resnet_v2.build("tiny")                          # feature extractor
    with pytest.raises(weights.WeightsMismatchError, match="unexpected in file: resnet/head"):
        weights.load_npz(feats, arrays)
    weights.load_npz(feats, arrays, skip_head=True)
    assert weights.head_classes(arrays) == 6


def test_head_of_any_size_loads_when_it_matches():
    # Not hard-coded to 21,843 (official bug #47): 1000 (BiT-S / ILSVRC2012) loads as well.
    model = resnet_v2.build("tiny", num_classes=1000)
    arrays = random_official_arrays(model, seed=9)
    fresh = resnet_v2.build("tiny", num_classes=1000)
    weights.load_npz(fresh, arrays)
    np.testing.assert_array_equal(fresh.get_layer(resnet_v2.HEAD_NAME).kernel.numpy(),
                                  arrays["resnet/head/conv2d/kernel"][0, 0])


def test_published_name_resolution():
    assert weights.published_url("BiT-M-R50x1") == \
        "https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz"
    assert weights.published_url("BiT-S-R101x3") == \
        "https://storage.googleapis.com/bit_models/BiT-S-R101x3.npz"
    assert weights.published_url("BiT-M-R50x1-ILSVRC2012") == \
        "https://storage.googleapis.com/bit_models/BiT-M-R50x1-ILSVRC2012.npz"
    for bad in ("BiT-M-R50x2", "BiT-L-R50x1", "bit-m-r50x1", "BiT-M-R50x1.npz"):
        assert not weights.is_published_name(bad)
        with pytest.raises(weights.WeightsError):
            weights.published_url(bad)
    assert weights.arch_from_filename("gs://b/BiT-S-R152x4.npz") == "R152x4"
    assert weights.arch_from_filename("/x/finetuned.npz") is None


def test_unreadable_sources_are_config_errors(tmp_path):
    with pytest.raises(weights.WeightsError, match="cannot read"):
        weights.read_npz(str(tmp_path / "nope.npz"))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(weights.WeightsError, match="not a readable .npz"):
        weights.read_npz(str(bad))


def test_preprocess_maps_pixels_to_minus_one_one():
    out = weights.preprocess(tf.constant([0, 127.5, 255.0])).numpy()
    np.testing.assert_allclose(out, [-1.0, 0.0, 1.0])
    u = np.array([0.0, 0.25, 1.0], np.float32)
    np.testing.assert_allclose(weights.preprocess(u * 255).numpy(), u * 2 - 1, atol=1e-6)

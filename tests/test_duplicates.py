"""Identical images across and within splits, and imbalanced classes (issue 29): found during
ingestion from the content hash, listed in the quarantine report, said on the console, and by
default an eval copy of a training image is left out of the evaluation."""
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import images
import runs
from bit_tfx.core import keys
from bit_tfx.components.image_example_gen import executor


def _ingest(tmp_path, data, **kwargs):
    """ImageExampleGen's executor on a real Beam pipeline: (its report, eval file names)."""
    report, uri = runs.ingest(tmp_path, data, **kwargs)
    names = []
    for path in tf.io.gfile.glob(os.path.join(uri, "Split-eval", "*.gz")):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP").as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            names.append(example.features.feature[keys.FILENAME].bytes_list.value[0].decode())
    return report, sorted(names)


def _distinct(root):
    """train/ and eval/ folders of classes a and b, 2 distinct images each."""
    for n, (split, label, i) in enumerate((s, c, i) for s in ("train", "eval") for c in "ab" for i in range(2)):
        images.write(str(root / split / label / f"img_{i}.jpg"), images.rgb_jpeg(seed=700 + n))


def blocky(seed, scale, fmt):
    """8 x 9 grey blocks, each `scale` pixels square: the same picture at any
    scale (what a resized copy is), encoded as `fmt`."""
    rows, cols = np.mgrid[0:8, 0:9]
    levels = 20 + 27 * ((cols + seed * rows) % 8)  # left and right neighbours 27 or more apart
    pixels = np.kron(levels, np.ones((scale, scale))).astype(np.uint8)
    return images.encode(Image.fromarray(np.stack([pixels] * 3, -1)), fmt)


@pytest.fixture
def split_data(tmp_path):
    """train/ and eval/ folders; eval/cat/copy.jpg is train/cat/c0.jpg under another name, and
    train/dog/d9.jpg repeats train/dog/d0.jpg (the same image trained twice)."""
    root = tmp_path / "data"
    for label, seed in (("cat", 0), ("dog", 100)):
        for i in range(4):
            images.write(str(root / "train" / label / f"{label[0]}{i}.jpg"), images.rgb_jpeg(seed=seed + i))
            images.write(str(root / "eval" / label / f"e{label[0]}{i}.jpg"), images.rgb_jpeg(seed=seed + 50 + i))
    images.write(str(root / "eval" / "cat" / "copy.jpg"), images.rgb_jpeg(seed=0))
    images.write(str(root / "train" / "dog" / "d9.jpg"), images.rgb_jpeg(seed=100))
    return str(root)


def test_an_eval_copy_of_a_training_image_is_dropped_and_listed(tmp_path, split_data, caplog):
    report, eval_names = _ingest(tmp_path, split_data)
    dups = report["duplicates"]
    assert [[(f["split"], f["file"]) for f in g["files"]] for g in dups["across_splits"]] == [
        [("eval", "eval/cat/copy.jpg"), ("train", "train/cat/c0.jpg")]]
    assert dups["across_splits"][0]["eval_dropped"] == ["eval/cat/copy.jpg"] and dups["eval_dropped"] == 1
    assert "eval/cat/copy.jpg" not in eval_names and len(eval_names) == 8
    assert report["valid_per_split_and_class"]["eval"] == {"cat": 4, "dog": 4}
    assert [[f["file"] for f in g["files"]] for g in dups["within_split"]] == [
        ["train/dog/d0.jpg", "train/dog/d9.jpg"]]
    assert "1 image(s) are in both train and eval" in caplog.text and "--eval-duplicates keep" in caplog.text
    assert dups["near_duplicates"] == []  # identical files are not "near" duplicates
    assert "1 group(s) of identical images within one split" in caplog.text
    assert "train/dog/d0.jpg (train) = train/dog/d9.jpg (train)" in caplog.text


def test_kept_when_asked(tmp_path, split_data):
    report, eval_names = _ingest(tmp_path, split_data, eval_duplicates=keys.EVAL_DUPLICATES_KEEP)
    assert report["duplicates"]["eval_dropped"] == 0 and len(report["duplicates"]["across_splits"]) == 1
    assert "eval/cat/copy.jpg" in eval_names and report["valid_per_split_and_class"]["eval"]["cat"] == 5


def test_one_image_under_two_labels_is_named(tmp_path):
    root = tmp_path / "data"
    _distinct(root)
    images.write(str(root / "train" / "b" / "same_as_a0.jpg"), (root / "train" / "a" / "img_0.jpg").read_bytes())
    report, _ = _ingest(tmp_path, str(root))
    [group] = report["duplicates"]["within_split"]
    assert group["labels"] == ["a", "b"] and report["duplicates"]["across_splits"] == []
    assert report["duplicates"]["near_duplicates"] == []


def test_a_class_with_under_a_tenth_of_the_largest_is_named(tmp_path, caplog):
    root = tmp_path / "data"
    images.class_folders(str(root / "train"), ["many"], 21)
    images.class_folders(str(root / "train"), ["few"], 2, prefix="")
    for label in ("many", "few"):
        images.write(str(root / "eval" / label / "e.jpg"), images.rgb_jpeg(seed=hash(label) % 1000 + 5000))
    # The same seeds in both folders: make "few" distinct from "many".
    for i, path in enumerate(sorted((root / "train" / "few").iterdir())):
        images.write(str(path), images.rgb_jpeg(seed=9000 + i))
    report, _ = _ingest(tmp_path, str(root))
    assert report["imbalanced_classes"] == ["few"]
    assert "Imbalanced classes: 'few' (2)" in caplog.text and "--class-weighted" in caplog.text
    assert "'many': 21" in caplog.text


def test_a_resized_re_encoded_copy_is_a_near_duplicate_listed_not_dropped(tmp_path, caplog):
    root = tmp_path / "data"
    _distinct(root)
    images.write(str(root / "train" / "a" / "big.png"), blocky(1, 6, "PNG"))
    images.write(str(root / "eval" / "a" / "small.jpg"), blocky(1, 3, "JPEG"))
    images.write(str(root / "train" / "b" / "flat1.png"), images.encode(Image.new("RGB", (30, 30), "white"), "PNG"))
    images.write(str(root / "train" / "b" / "flat2.png"), images.encode(Image.new("RGB", (40, 30), "black"), "PNG"))
    report, eval_names = _ingest(tmp_path, str(root))
    near = report["duplicates"]["near_duplicates"]
    assert [[(f["split"], f["file"]) for f in g["files"]] for g in near] == [
        [("eval", "eval/a/small.jpg"), ("train", "train/a/big.png")]]  # flat images are not alike
    assert near[0]["splits"] == ["eval", "train"] and "eval/a/small.jpg" in eval_names
    assert report["duplicates"]["across_splits"] == [] and report["duplicates"]["eval_dropped"] == 0
    assert "1 group(s) of images that look alike but differ in their bytes" in caplog.text


def test_a_hash_many_different_images_share_is_not_a_near_duplicate_finding():
    """Smooth gradients or plain backgrounds can share one perceptual hash by the thousand: more
    than NEAR_DUPLICATE_MAX_GROUP different images under one hash are counted, not listed."""
    def files(n, split="train"):
        return [{"file": f"a/{split}{i}.jpg", "split": split, "label": "a", "sha256": f"{split}{i}"}
                for i in range(n)]
    pair = {"key": "aa" * 8, "files": files(1) + files(1, "eval")}
    crowd = {"key": "bb" * 8, "files": files(keys.NEAR_DUPLICATE_MAX_GROUP + 1)}
    found = executor.duplicate_groups([pair, crowd])
    assert [g["perceptual_hash"] for g in found["near_duplicates"]] == ["aa" * 8]
    assert found["indistinct_perceptual_hashes"] == [
        {"perceptual_hash": "bb" * 8, "images": keys.NEAR_DUPLICATE_MAX_GROUP + 1}]

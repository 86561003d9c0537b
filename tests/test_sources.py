"""Layouts, manifests and the configuration errors raised before any Beam work."""
import os

import pytest

import images
from bit_tfx.components.image_example_gen import sources
from bit_tfx.components.image_example_gen.sources import SourceError


def test_class_folders_detected_and_planned(tmp_path):
    images.class_folders(str(tmp_path), ["cat", "dog house", "oiseau é"], 2)
    src = sources.resolve(str(tmp_path))
    assert src == sources.Source(str(tmp_path), "*/*", sources.CLASS_FOLDERS)
    plan = sources.plan(src)
    assert plan.labels == ["cat", "dog house", "oiseau é"]  # folder names as given
    assert {f.label for f in plan.class_folders} == set(plan.labels)


@pytest.mark.parametrize("eval_name", ["eval", "val", "validation", "test", "Val"])
def test_split_folders_accept_eval_aliases(tmp_path, eval_name):
    images.class_folders(str(tmp_path), ["a", "b"], 2, prefix="train")
    images.class_folders(str(tmp_path), ["a", "b"], 1, prefix=eval_name)
    src = sources.resolve(str(tmp_path))
    assert src.layout == sources.SPLIT_FOLDERS and src.pattern == "*/*/*"
    plan = sources.plan(src)
    assert sorted({(f.split, f.label) for f in plan.class_folders}) == [
        ("eval", "a"), ("eval", "b"), ("train", "a"), ("train", "b")]


def test_span_pattern_takes_layout_of_newest_span(tmp_path):
    images.class_folders(str(tmp_path / "span-1"), ["a", "b"], 1)
    images.class_folders(str(tmp_path / "span-2"), ["a", "b"], 1, prefix="train")
    images.class_folders(str(tmp_path / "span-2"), ["a", "b"], 1, prefix="eval")
    src = sources.resolve(str(tmp_path / "span-{SPAN}"))
    assert src == sources.Source(str(tmp_path), "span-{SPAN}/*/*/*", sources.SPLIT_FOLDERS)


def test_missing_span_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no span matches"):
        sources.resolve(str(tmp_path / "span-{SPAN}"))


@pytest.mark.parametrize("setup, message", [
    (lambda r: os.makedirs(r), "empty input"),
    (lambda r: images.class_folders(r, ["only"], 3), "single class"),
    (lambda r: (images.class_folders(r, ["a", "b"], 2), os.makedirs(os.path.join(r, "c"))),
     "class folder\\(s\\) with no files.*/c"),
    (lambda r: (images.class_folders(r, ["a", "b"], 2), images.write(os.path.join(r, "x.jpg"), b"1")),
     "no class folder"),
])
def test_configuration_errors_before_any_work(tmp_path, setup, message):
    root = str(tmp_path / "data")
    setup(root)
    with pytest.raises(SourceError, match=message):
        sources.plan(sources.Source(root, "*/*", sources.CLASS_FOLDERS))


def test_split_folders_need_train_and_known_eval_classes(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 1, prefix="train")
    images.class_folders(str(tmp_path), ["a", "zebra"], 1, prefix="eval")
    with pytest.raises(SourceError, match="zebra"):
        sources.plan(sources.Source(str(tmp_path), "*/*/*", sources.SPLIT_FOLDERS))
    images.class_folders(str(tmp_path), ["a"], 1, prefix="test")
    with pytest.raises(SourceError, match="exactly one eval split folder"):
        sources.plan(sources.Source(str(tmp_path), "*/*/*", sources.SPLIT_FOLDERS))


def _manifest(tmp_path, text):
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    return sources.resolve(str(path))


def test_manifest_with_header_and_split_column(tmp_path):
    src = _manifest(tmp_path, "path,label,split\na.jpg,cat,train\nb.jpg,dog,train\nc.jpg,cat,val\n")
    assert src.layout == sources.CSV
    plan = sources.plan(src)
    assert plan.labels == ["cat", "dog"] and plan.manifest[1:] == (True, 3)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("path,label\n", "lists no images"),
    ("a.jpg,cat\nb.jpg\n", "line 2: expected 2 columns"),
    ("a.jpg,cat,train\nb.jpg,dog,holdout\n", "line 2: split 'holdout'"),
    ("a.jpg,cat\nb.jpg,cat\n", "1 training class"),
    ("a.jpg,cat,train\nb.jpg,dog,train\n", "no eval rows"),
])
def test_manifest_errors_name_the_line(tmp_path, text, message):
    with pytest.raises(SourceError, match=message):
        sources.plan(_manifest(tmp_path, text))


def test_unknown_data_path_is_refused(tmp_path):
    with pytest.raises(SourceError, match="neither a folder"):
        sources.resolve(str(tmp_path / "nope"))


def test_plan_before_the_driver_checks_the_newest_span(tmp_path):
    images.class_folders(str(tmp_path / "span-1"), ["a", "b"], 1)
    images.class_folders(str(tmp_path / "span-2"), ["a", "b", "c"], 1)
    plan = sources.plan(sources.resolve(str(tmp_path / "span-{SPAN}")))
    assert plan.labels == ["a", "b", "c"]
    assert {f.relpath for f in plan.class_folders} == {"span-2/a", "span-2/b", "span-2/c"}

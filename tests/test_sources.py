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


@pytest.mark.parametrize("eval_name", ["eval", "val", "validation", "test", "Val", "valid"])
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


# --- data in its publisher's own layout (issue 14, inputs) ---------------------------------

def _skipped(plan):
    return {(s["file"], s["reason"]) for s in plan.skipped}


def test_files_beside_the_class_folders_are_skipped_and_listed_not_refused(tmp_path):
    # tf_flowers' archive: flower_photos/LICENSE.txt beside the five class folders.
    root = str(tmp_path / "flower_photos")
    images.class_folders(root, ["daisy", "roses"], 2)
    for name in ("LICENSE.txt", "README.md", ".DS_Store", "Thumbs.db", "desktop.ini", "._daisy"):
        images.write(os.path.join(root, name), b"text")
    os.makedirs(os.path.join(root, ".git"))
    plan = sources.plan(sources.resolve(root))
    assert plan.labels == ["daisy", "roses"]
    assert _skipped(plan) == {
        ("LICENSE.txt", sources.NOT_IN_CLASS_FOLDER), ("README.md", sources.NOT_IN_CLASS_FOLDER),
        (".DS_Store", sources.HIDDEN_FILE), ("Thumbs.db", sources.HIDDEN_FILE),
        ("desktop.ini", sources.HIDDEN_FILE), ("._daisy", sources.HIDDEN_FILE),
        (".git", sources.HIDDEN_FILE)}


def test_files_at_the_top_and_directly_in_split_folders_are_skipped(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 1, prefix="train")
    images.class_folders(str(tmp_path), ["a", "b"], 1, prefix="val")
    images.write(str(tmp_path / "LICENSE"), b"text")
    images.write(str(tmp_path / "train" / "README.txt"), b"text")
    images.write(str(tmp_path / "val" / "Thumbs.db"), b"\0")
    plan = sources.plan(sources.resolve(str(tmp_path)))
    assert _skipped(plan) == {("LICENSE", sources.NOT_IN_CLASS_FOLDER),
                              ("train/README.txt", sources.NOT_IN_CLASS_FOLDER),
                              ("val/Thumbs.db", sources.HIDDEN_FILE)}


@pytest.mark.parametrize("name", ["cl\nass", "cl\rass", " "])
def test_a_label_the_vocabulary_would_drop_is_refused_naming_the_folder(tmp_path, name):
    images.class_folders(str(tmp_path), ["a", "b", name], 1)
    with pytest.raises(SourceError, match="label") as e:
        sources.plan(sources.resolve(str(tmp_path)))
    assert repr(name.strip())[1:-1] in str(e.value) or "empty" in str(e.value)


def test_labels_are_stripped_in_folders_as_in_manifests(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b "], 1)
    assert sources.plan(sources.resolve(str(tmp_path))).labels == ["a", "b"]


def test_a_dangling_symlink_anywhere_is_refused_naming_it(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 2)
    os.makedirs(tmp_path / "b" / "deep")
    os.symlink(str(tmp_path / "gone.jpg"), str(tmp_path / "b" / "deep" / "link.jpg"))
    with pytest.raises(SourceError, match="dangling.*b/deep/link.jpg"):
        sources.plan(sources.resolve(str(tmp_path)))


def test_symlinked_class_folders_and_files_are_followed(tmp_path):
    images.class_folders(str(tmp_path / "elsewhere"), ["b"], 1)
    images.class_folders(str(tmp_path / "data"), ["a"], 1)
    os.symlink(str(tmp_path / "elsewhere" / "b"), str(tmp_path / "data" / "b"))
    assert sources.plan(sources.resolve(str(tmp_path / "data"))).labels == ["a", "b"]


def test_a_fifo_is_listed_as_not_a_regular_file(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 1)
    os.mkfifo(str(tmp_path / "a" / "pipe.jpg"))
    entries = sources.list_entries(str(tmp_path / "a"))
    assert entries.files == ["img_0000.jpg"]
    assert entries.skipped == [("pipe.jpg", sources.NOT_REGULAR_FILE)]


def test_a_class_folder_with_only_a_sub_folder_names_it_and_the_fix(tmp_path):
    images.class_folders(str(tmp_path), ["a"], 1)
    images.class_folders(str(tmp_path / "b"), ["photos"], 1)
    with pytest.raises(SourceError, match="only sub-folder.*photos.*move.*CSV manifest"):
        sources.plan(sources.resolve(str(tmp_path)))


def _manifest_bytes(tmp_path, data):
    path = tmp_path / "labels.csv"
    path.write_bytes(data)
    return sources.resolve(str(path))


def test_manifest_with_a_byte_order_mark(tmp_path):
    bom = "\ufeff".encode("utf-8")
    plan = sources.plan(_manifest_bytes(tmp_path, bom + b"path,label\na.jpg,cat\nb.jpg,dog\n"))
    assert plan.labels == ["cat", "dog"] and plan.manifest[1:] == (True, 2)  # no phantom "label"
    plan = sources.plan(_manifest_bytes(tmp_path, bom + b"a.jpg,cat\nb.jpg,dog\n"))
    assert plan.labels == ["cat", "dog"] and plan.manifest[1] is False
    assert sources.parse_manifest_line("\ufeffa.jpg,cat\n", 1, "labels.csv", 2)[0] == "a.jpg"


def test_manifest_labels_are_stripped_like_paths(tmp_path):
    plan = sources.plan(_manifest(tmp_path, "a.jpg,cat\nb.jpg, cat\nc.jpg,dog \n"))
    assert plan.labels == ["cat", "dog"]


def test_manifest_exact_duplicates_are_skipped_and_listed(tmp_path):
    plan = sources.plan(_manifest(tmp_path, "a.jpg,cat\nb.jpg,dog\n./a.jpg,cat\n"))
    assert plan.labels == ["cat", "dog"]
    assert [(s["file"], s["reason"]) for s in plan.skipped] == [("./a.jpg", sources.DUPLICATE_ROW)]
    assert "line 1" in plan.skipped[0]["detail"]


@pytest.mark.parametrize("text, message", [
    ("a.jpg,cat,train\nb.jpg,dog,train\na.jpg,cat,val\n", "line 3: .*a.jpg.* both.*train.*line 1"),
    ("a.jpg,cat\nb.jpg,dog\nsub/../a.jpg,dog\n", "line 3: .*a.jpg.* label 'dog'.*line 1.*'cat'"),
    ("a.jpg,cat\nb.jpg,cl\rass\n", "line 2"),
    ('a.jpg,cat\nb.jpg,"cl\nass"\n', "line 2"),
    # A relative path leaving the manifest's folder (an absolute path says so on purpose).
    ("a.jpg,cat\nsub/../../secret.jpg,dog\n", "line 2: 'sub/../../secret.jpg' leaves the manifest's folder"),
])
def test_manifest_leakage_and_bad_labels_are_refused_naming_the_line(tmp_path, text, message):
    with pytest.raises(SourceError, match=message):
        sources.plan(_manifest(tmp_path, text))


def test_a_latin_1_manifest_names_the_file_and_line(tmp_path):
    src = _manifest_bytes(tmp_path, "a.jpg,cat\nb.jpg,chien\nc.jpg,oiseau é\n".encode("latin-1"))
    with pytest.raises(SourceError, match="labels.csv line 3: .*UTF-8"):
        sources.plan(src)


# --- input handling (issue 24) ---------------------------------------------------------------

def test_a_kaggle_export_with_train_valid_and_test_names_both_eval_folders(tmp_path):
    for split in ("train", "valid", "test"):
        images.class_folders(str(tmp_path), ["a", "b"], 1, prefix=split)
    src = sources.resolve(str(tmp_path))
    assert src.layout == sources.SPLIT_FOLDERS  # not the classes train, valid and test
    with pytest.raises(SourceError, match=r"exactly one eval.*\['test', 'valid'\].*keep one"):
        sources.plan(src)


@pytest.mark.parametrize("unknown", ["dev", "holdout", "Testing"])
def test_a_split_folder_name_we_do_not_know_is_refused_naming_it(tmp_path, unknown):
    images.class_folders(str(tmp_path), ["a", "b"], 2, prefix="train")
    images.class_folders(str(tmp_path), ["a", "b"], 1, prefix=unknown)
    with pytest.raises(SourceError, match=f"'{unknown}' is not a split name.*valid.*rename it"):
        sources.plan(sources.resolve(str(tmp_path)))


def test_split_like_folders_without_a_known_name_are_told_how_to_name_them(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 2, prefix="training")
    images.class_folders(str(tmp_path), ["a", "b"], 1, prefix="testing")
    with pytest.raises(SourceError, match="testing.*training.*if they are split folders.*name them "
                                          "train and eval"):
        sources.plan(sources.resolve(str(tmp_path)))


def test_a_class_named_like_a_split_still_trains(tmp_path):
    # Vehicles: a class called "train" holding images is a class, not a split folder.
    images.class_folders(str(tmp_path), ["train", "car", "bus"], 1)
    assert sources.plan(sources.resolve(str(tmp_path))).labels == ["bus", "car", "train"]


@pytest.mark.parametrize("layout", [sources.CSV, sources.TFRECORD])
def test_a_file_layout_on_a_folder_is_a_flag_error(tmp_path, layout):
    images.class_folders(str(tmp_path), ["a", "b"], 1)
    with pytest.raises(SourceError, match="does not fit --data.*a folder") as raised:
        sources.resolve(str(tmp_path), layout)
    assert raised.value.field == "layout" and raised.value.named("--layout").startswith("--layout ")


@pytest.mark.parametrize("layout", [sources.CLASS_FOLDERS, sources.SPLIT_FOLDERS])
def test_a_folder_layout_on_a_file_is_a_flag_error(tmp_path, layout):
    (tmp_path / "labels.csv").write_text("a.jpg,cat\nb.jpg,dog\n")
    with pytest.raises(SourceError, match="does not fit --data.*a file") as raised:
        sources.resolve(str(tmp_path / "labels.csv"), layout)
    assert raised.value.field == "layout"


def test_cli_refuses_a_layout_that_does_not_fit_before_the_pipeline_starts(tmp_path, capsys):
    from bit_tfx.cli import common, main as cli
    images.class_folders(str(tmp_path / "data"), ["a", "b"], 2)
    code = cli.main(["hyperrule", "--data", str(tmp_path / "data"), "--layout", "csv",
                     "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == common.EXIT_CONFIG, err
    # the last line (a log file named before it, where the check ran after the console started)
    assert err.splitlines()[-1].startswith("bit-tfx: configuration error: --layout 'csv' does not fit --data ")
    assert not (tmp_path / "out" / "pipeline_root").exists()


def test_a_class_folder_left_by_an_output_inside_the_data_is_named_with_the_fix(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 2)
    images.write(str(tmp_path / "runs" / "metadata.sqlite"), b"SQLite format 3\0")
    os.makedirs(tmp_path / "runs" / "pipeline_root" / "ImageExampleGen")
    with pytest.raises(SourceError, match="class folder .*runs.* output folder of an earlier run "
                                          ".*metadata.sqlite and pipeline_root/.*delete"):
        sources.plan(sources.resolve(str(tmp_path)))


def test_the_output_of_a_run_into_the_data_folder_itself_is_named_with_the_fix(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 2)
    images.write(str(tmp_path / "metadata.sqlite"), b"SQLite format 3\0")
    os.makedirs(tmp_path / "pipeline_root" / "ImageExampleGen")
    with pytest.raises(SourceError, match="holds metadata.sqlite and pipeline_root/: the output of "
                                          "an earlier run.*delete them"):
        sources.plan(sources.resolve(str(tmp_path)))


def test_a_class_folder_whose_name_is_not_utf8_is_refused_with_escapes(tmp_path):
    images.class_folders(str(tmp_path), ["a", "b"], 1)
    images.class_folders(os.fsencode(tmp_path).decode("utf-8"), [os.fsdecode(b"caf\xe9")], 1)
    with pytest.raises(SourceError, match=r"caf\\\\xe9.*not UTF-8.*rename"):
        sources.plan(sources.resolve(str(tmp_path)))


def test_names_that_are_not_utf8_are_shown_with_escapes():
    name = os.fsdecode(b"bad\xffname.png")
    assert not sources.is_utf8(name) and sources.is_utf8("oiseau é.png")
    assert sources.shown_name(name) == "bad\\xffname.png"
    assert sources.skipped_record(name, sources.HIDDEN_FILE)["file"] == "bad\\xffname.png"

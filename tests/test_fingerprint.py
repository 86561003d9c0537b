"""The input fingerprint (issue 29): what decides that a run's data is the data already
ingested (a cache hit) or already served ("nothing new"). Every change that changes the data,
its labels or its splits changes it; an untouched copy elsewhere does not."""
import os
import shutil

import pytest

import images
from bit_tfx.components.image_example_gen import span


def _fingerprint(root, pattern="*/*"):
    return span.files_fingerprint("images", str(root), pattern)


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    for i, label in enumerate(["blue"] * 3 + ["red"] * 3):
        images.write(str(root / label / f"{label}_{i}.jpg"), images.rgb_jpeg(seed=i))
    return root


def _same_stat(src, dst):
    shutil.copystat(src, dst)


def test_a_relabelled_file_changes_it(data):
    """The issue's case: one image moved from red/ to blue/, same bytes, same mtime."""
    before = _fingerprint(data)
    name = sorted(os.listdir(data / "red"))[0]
    os.rename(data / "red" / name, data / "blue" / name)
    after = _fingerprint(data)
    assert before != after
    # Count, bytes and mtimes are the same: TFX's own fingerprint could not tell.
    assert before.split(",files_sha256")[0] == after.split(",files_sha256")[0]


@pytest.mark.parametrize("change", ["rename", "add", "remove", "rewrite_same_size", "touch"])
def test_every_change_to_a_file_changes_it(data, change):
    before = _fingerprint(data)
    red = data / "red"
    first = red / sorted(os.listdir(red))[0]
    if change == "rename":
        first.rename(red / "renamed.jpg")
    elif change == "add":
        images.write(str(red / "new.jpg"), images.rgb_jpeg(seed=42))
    elif change == "remove":
        first.unlink()
    elif change == "rewrite_same_size":
        stat = first.stat()
        data_bytes = first.read_bytes()
        first.write_bytes(data_bytes[:-1] + bytes([data_bytes[-1] ^ 1]))
        os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # within the same second
    else:
        stat = first.stat()
        os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))
    assert _fingerprint(data) != before


def test_an_untouched_copy_elsewhere_is_the_same_data(data, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)  # copy2: same names, sizes and modification times
    assert _fingerprint(copy) == _fingerprint(data)


def test_a_manifest_covers_its_rows_and_the_images_it_lists(tmp_path):
    images.class_folders(str(tmp_path / "imgs"), ["a", "b"], 2)
    files = sorted(f"imgs/{c}/{n}" for c in "ab" for n in os.listdir(tmp_path / "imgs" / c))
    manifest = tmp_path / "labels.csv"
    manifest.write_text("path,label\n" + "".join(f"{f},{f.split('/')[1]}\n" for f in files))
    before = _fingerprint(tmp_path, "labels.csv")
    stat = manifest.stat()
    # A relabelled row, same size and same mtime as the manifest had.
    text = manifest.read_text()
    manifest.write_text(text.replace(f"{files[0]},a", f"{files[0]},b", 1))
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    relabelled = _fingerprint(tmp_path, "labels.csv")
    assert relabelled != before
    manifest.write_text(text)
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _fingerprint(tmp_path, "labels.csv") == before
    # A listed image rewritten: the manifest itself is unchanged.
    images.write(str(tmp_path / files[1]), images.rgb_jpeg(seed=77, h=41))
    assert _fingerprint(tmp_path, "labels.csv") != before

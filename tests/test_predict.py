"""`bit-tfx predict`: a really pushed model, and ImageNet-1k classifiers that the tests
make themselves in the real formats (official-naming .npz, TF Hub SavedModel layout):
no machine here reaches TF Hub or Cloud Storage."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import images
from bit_tfx.models.bit import hub, imagenet, resnet_v2, weights
from bit_tfx.cli import common, main as cli
from test_bit_model_resnet import random_official_arrays

GOLDEN_RETRIEVER = 207
SIZE = 64  # --resolution in the ImageNet tests: R50x1 on 2 CPU cores stays fast


def predict(capsys, *argv):
    """(exit code, stdout, stderr) of `bit-tfx predict ARGV`."""
    code = cli.main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out):
    return [json.loads(line) for line in out.splitlines()]


# --- a pushed model -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def inputs(pushed_run, tmp_path_factory):
    """3 red and 3 blue images of the pushed run in sub-folders, a file that is no image,
    a truncated PNG, and hidden files that a folder search must skip."""
    _, _, data = pushed_run
    root = tmp_path_factory.mktemp("inputs")
    for label in ("red", "blue"):
        for src in sorted((data / label).iterdir())[:3]:
            images.write(str(root / "colours" / label / src.name), src.read_bytes())
    red = sorted((data / "red").iterdir())[0].read_bytes()
    images.write(str(root / "x.png"), b"not an image")
    images.write(str(root / "truncated.png"), red[: len(red) // 2])
    images.write(str(root / ".hidden.png"), red)
    images.write(str(root / ".cache" / "red.png"), red)
    return root


def truncated_bytes(inputs):
    return (inputs / "truncated.png").read_bytes()


def serving_dir(pushed_run):
    return os.path.dirname(pushed_run[1].pushed_to)


@pytest.mark.pipeline
def test_pushed_model_table_reports_bad_files_and_classifies_the_rest(pushed_run, inputs,
                                                                       capsys):
    # Batches of 4 put both bad files in one batch with good ones: retried file by file.
    code, out, err = predict(capsys, "--model", serving_dir(pushed_run), "--files-per-call", 4,
                             inputs)
    assert code == common.EXIT_RUN, err
    rows = [line.split(None, 4) for line in out.splitlines()]
    assert rows[0] == ["file", "#", "probability", "class"]
    # A file's first row: FILE 1 PROBABILITY CLASS, or FILE - - ERROR REASON; then ranks 2..k.
    firsts = {r[0]: r[1:] for r in rows[1:] if len(r) >= 4}
    good = sorted(str(p) for p in (inputs / "colours").rglob("*.png"))
    assert sorted(firsts) == sorted(good + [str(inputs / "x.png"), str(inputs / "truncated.png")])
    for f in good:
        assert firsts[f][0] == "1" and firsts[f][2] == os.path.basename(os.path.dirname(f))
    # In ingestion's words (image_check): the same reason as the quarantine report's.
    assert firsts[str(inputs / "x.png")] == ["-", "-", "ERROR", _ingestion_says(b"not an image")]
    assert firsts[str(inputs / "truncated.png")][2:] == [
        "ERROR", "undecodable: TensorFlow cannot decode it (Invalid PNG data, size "
                 f"{len(truncated_bytes(inputs))})"]
    assert ".hidden" not in out and ".cache" not in out
    assert "6 classified, 2 unreadable" in err


@pytest.mark.pipeline
def test_the_real_console_counts_what_it_lists_and_no_tensorflow_start_up(pushed_run, inputs, tmp_path):
    """`bit-tfx predict` as a user runs it (real stderr): the count it announces is the rows it
    lists (a FIFO included, reported and not read), and TensorFlow's CUDA-registration lines
    of its import are not there."""
    import subprocess
    import sys
    os.mkfifo(str(tmp_path / "pipe.png"))
    good = sorted((inputs / "colours" / "red").iterdir())[0]
    done = subprocess.run([sys.executable, "-m", "bit_tfx.cli.main", "predict", "--model",
                           serving_dir(pushed_run), "--json", str(good), str(tmp_path / "pipe.png")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == common.EXIT_RUN, done.stderr
    assert len(done.stdout.splitlines()) == 2
    assert "predict: 2 file(s) (1 not a regular file: reported, not read) with" in done.stderr, done.stderr
    assert "cuFFT" not in done.stderr and "cuda" not in done.stderr.lower(), done.stderr


@pytest.mark.pipeline
def test_pushed_model_json_files_and_folders_top_k_clamped(pushed_run, inputs, capsys):
    red = sorted((inputs / "colours" / "red").iterdir())
    argv = [red[0], inputs / "x.png", inputs / "colours" / "blue", red[1]]
    code, out, err = predict(capsys, "--model", pushed_run[1].pushed_to, "--json",
                             "--top-k", 5, *argv)
    assert code == common.EXIT_RUN, err
    records = json_lines(out)
    blue = sorted(str(p) for p in (inputs / "colours" / "blue").iterdir())
    assert [r["file"] for r in records] == [str(red[0]), str(inputs / "x.png"), *blue,
                                            str(red[1])]
    assert records[1] == {"file": str(inputs / "x.png"), "error": "not_an_image: no image "
                          "header recognised: not a JPEG, PNG, GIF or BMP file, nor any other "
                          "image format"}
    for record in records[:1] + records[2:]:
        predictions = record["predictions"]
        assert len(predictions) == 2  # clamped to the model's 2 classes
        assert predictions[0]["class"] == ("red" if "/red/" in record["file"] else "blue")
        assert predictions[0]["probability"] >= predictions[1]["probability"]
        assert sum(p["probability"] for p in predictions) == pytest.approx(1.0, abs=1e-5)
    assert "--top-k 5: the model has 2 classes; showing 2" in err


@pytest.mark.pipeline
def test_pushed_model_versions(pushed_run, inputs, tmp_path, capsys):
    serving = tmp_path / "serving"
    for version in ("1", "7"):
        (serving / version).parent.mkdir(exist_ok=True)
        os.symlink(pushed_run[1].pushed_to, serving / version)
    (serving / "12").mkdir()       # half-written: Pusher writes saved_model.pb last
    (serving / "notes").mkdir()
    image = sorted((inputs / "colours" / "red").iterdir())[0]

    code, out, err = predict(capsys, "--model", serving, "--top-k", 1, "--json", image)
    assert code == 0 and f"pushed model {serving / '7'}" in err
    assert json_lines(out)[0]["predictions"][0]["class"] == "red"
    code, _, err = predict(capsys, "--model", serving, "--version", 1, image)
    assert code == 0 and f"pushed model {serving / '1'}" in err
    code, _, err = predict(capsys, "--model", serving, "--version", 12, image)
    assert code == common.EXIT_CONFIG and "--version 12 is not in" in err and "there: 1, 7" in err
    code, _, err = predict(capsys, "--model", serving / "7", "--version", 1, image)
    assert code == common.EXIT_CONFIG and "is itself a version folder" in err


@pytest.mark.parametrize("argv, message", [
    (["--model", "{tmp}/no-such-serving-dir", "{img}"], "{tmp}/no-such-serving-dir'"),
    (["--model", "{tmp}", "{img}"], "no pushed version in it"),
    (["--model", "{tmp}", "{tmp}/missing.jpg", "{img}"], "no such file or folder: "
                                                           "{tmp}/missing.jpg"),
    (["--model", "npz:nothing", "{img}"], "invalid model spec 'npz:nothing'"),
    (["--model", "random:tiny", "{img}"], "random weights are no ImageNet classifier"),
    (["--model", "m-r50x1", "{img}"], "feature-vector module"),
    (["--model", "BiT-M-R50x1", "{img}"], "the ImageNet-1k classifier is "
                                          "BiT-M-R50x1-ILSVRC2012"),
    (["--model", "{tmp}", "--resolution", "224", "{img}"], "--resolution applies to "
                                                           "ImageNet classifiers only"),
    (["--model", "BiT-M-R50x1-ILSVRC2012", "--version", "3", "{img}"], "--version 3 applies"),
    (["--model", "BiT-M-R50x1-ILSVRC2012", "--resolution", "16", "{img}"], "at least 32"),
])
def test_bad_model_option_or_path_exits_2_naming_it(argv, message, tmp_path, capsys):
    image = tmp_path / "a.png"
    images.write(str(image), images.rgb_png())
    fill = dict(tmp=tmp_path, img=image)
    code, out, err = predict(capsys, *[a.format(**fill) for a in argv])
    assert code == common.EXIT_CONFIG and out == ""
    assert message.format(**fill) in err


@pytest.mark.parametrize("content", [b"garbage, not a protocol buffer", b""])
def test_a_corrupt_saved_model_pb_exits_2_naming_the_version(content, tmp_path, capsys):
    image = tmp_path / "a.png"
    images.write(str(image), images.rgb_png())
    version = tmp_path / "serving" / "3"
    images.write(str(version / "saved_model.pb"), content)
    for model in (version, version.parent):  # the version folder, or its SERVING_DIR
        code, out, err = predict(capsys, "--model", model, image)
        assert code == common.EXIT_CONFIG and out == "", err
        assert f"{version}: not a readable SavedModel" in err, err


def test_help_states_the_imagenet_resolution_and_why(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["predict", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default 480: the BiT-HyperRule test size for ImageNet-size images" in text
    assert "224 for speed on CPU (4.6x fewer FLOPs" in text


# --- ImageNet-1k stand-ins ------------------------------------------------------------------

@pytest.fixture(scope="module")
def r50_ilsvrc_npz(tmp_path_factory):
    """BiT-M-R50x1-ILSVRC2012.npz in the official naming whose head picks golden retriever
    (zero kernel, bias 20 there), and the same file under a name without the architecture."""
    model = resnet_v2.build("R50x1", num_classes=1000, kernel_initializer="zeros")
    bias = np.zeros(1000, np.float32)
    bias[GOLDEN_RETRIEVER] = 20.0
    model.get_layer(resnet_v2.HEAD_NAME).bias.assign(bias)
    folder = tmp_path_factory.mktemp("npz")
    official = weights.save_npz(model, str(folder / "BiT-M-R50x1-ILSVRC2012.npz"))
    os.link(official, folder / "imagenet_weights.npz")
    return folder


@pytest.fixture(scope="module")
def tiny_imagenet(tmp_path_factory):
    """A tiny ResNet-v2 with every weight random and a 1000-way head, as an .npz and as a
    TF Hub SavedModel; the native model takes [-1, 1]."""
    model = resnet_v2.build("tiny", num_classes=1000)
    weights.load_npz(model, random_official_arrays(model, seed=5))
    folder = tmp_path_factory.mktemp("tiny_imagenet")
    npz = weights.save_npz(model, str(folder / "tiny_1k.npz"))
    return model, npz, hub.export_hub_savedmodel(model, str(folder / "hub"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Lossless, non-square, RGB and grayscale: PIL and TensorFlow decode them identically
    (JPEG decoders differ in chroma upsampling)."""
    folder = tmp_path_factory.mktemp("photos")
    paths = [folder / "rgb.png", folder / "gray.png"]
    images.write(str(paths[0]), images.rgb_png(50, 40, seed=1))
    images.write(str(paths[1]), images.unusual_images(seed=2)["gray.png"])
    return paths


def reference_top5(model, path):
    """Top-5 (names, probabilities) computed independently of predict: PIL decode, bilinear
    stretch to SIZE, [-1, 1], the native model, softmax."""
    pixels = np.asarray(Image.open(path).convert("RGB"), np.float32)
    resized = tf.image.resize(pixels[None], [SIZE, SIZE], method="bilinear")
    probabilities = tf.nn.softmax(model(resized / 127.5 - 1.0)).numpy()[0]
    top = np.argsort(-probabilities)[:5]
    return [imagenet.class_names()[i] for i in top], probabilities[top]


def test_official_npz_name_and_shapes_give_the_head_s_class(r50_ilsvrc_npz, photos, capsys):
    for model in (r50_ilsvrc_npz / "BiT-M-R50x1-ILSVRC2012.npz",      # arch from the name
                  f"npz:{r50_ilsvrc_npz / 'imagenet_weights.npz'}"):   # arch from the shapes
        code, out, err = predict(capsys, "--model", model, "--resolution", SIZE, "--json",
                                 "--top-k", 3, *photos)
        assert code == 0, err
        assert f"at {SIZE}x{SIZE}" in err
        for record, path in zip(json_lines(out), photos):
            assert record["file"] == str(path) and len(record["predictions"]) == 3
            best = record["predictions"][0]
            assert best["class"] == "Golden Retriever" and best["probability"] > 0.99


@pytest.mark.parametrize("kind", ["hub", "npz"])
def test_imagenet_stand_ins_match_an_independent_forward_pass(kind, tiny_imagenet, photos,
                                                              capsys):
    """Value ranges: the hub module takes [0, 1] (converts inside), the .npz weights [-1, 1]
    (the classifier converts); both must give the native model's answer on [-1, 1]."""
    model, npz, hub_dir = tiny_imagenet
    source = f"hub:{hub_dir}" if kind == "hub" else npz   # npz: arch from the shapes (tiny)
    code, out, err = predict(capsys, "--model", source, "--resolution", SIZE, "--json", *photos)
    assert code == 0, err
    for record, path in zip(json_lines(out), photos):
        names, probabilities = reference_top5(model, path)
        assert [p["class"] for p in record["predictions"]] == names
        np.testing.assert_allclose([p["probability"] for p in record["predictions"]],
                                   probabilities, atol=1e-5)


def test_serving_signature_is_the_pushed_model_s(tiny_imagenet, photos):
    module = imagenet.build_serving(imagenet.parse(tiny_imagenet[1]), resolution=SIZE)
    signature = module.serve_bytes.get_concrete_function()
    assert signature.structured_input_signature[1] == {}
    assert [s.name for s in signature.structured_input_signature[0]] == ["image_bytes"]
    out = module.serve_bytes(tf.constant([p.read_bytes() for p in photos]))
    assert out["classes"].dtype == tf.string and out["classes"].shape == [2, 1000]
    assert out["scores"].dtype == tf.float32 and out["scores"].shape == [2, 1000]
    assert np.allclose(out["scores"].numpy().sum(axis=1), 1.0, atol=1e-5)


def test_not_1000_classes_is_refused_naming_the_file(tiny_imagenet, photos, tmp_path, capsys):
    ten = resnet_v2.build("tiny", num_classes=10)
    npz = weights.save_npz(ten, str(tmp_path / "ten_classes.npz"))
    code, _, err = predict(capsys, "--model", npz, "--resolution", SIZE, photos[0])
    assert code == common.EXIT_CONFIG
    assert f"{npz} has a 10-class head, not the 1000 ImageNet-1k classes" in err

    features = hub.export_hub_savedmodel(resnet_v2.build("tiny"), str(tmp_path / "features"))
    code, _, err = predict(capsys, "--model", f"hub:{features}", photos[0])
    assert code == common.EXIT_CONFIG
    assert f"TF Hub module {features} outputs shape [1, 1024]" in err

    _, _, hub_dir = tiny_imagenet   # a TF Hub directory without hub: is taken for a pushed model
    code, _, err = predict(capsys, "--model", hub_dir, photos[0])
    assert code == common.EXIT_CONFIG and f"use --model hub:{hub_dir}" in err


@pytest.mark.pipeline
def test_pushed_model_refuses_an_image_above_the_run_s_pixel_limit_and_classifies_the_rest(
        pushed_run, inputs, tmp_path, capsys):
    """serving_default reads the size from the header: a valid 12000x12000 PNG of a few
    hundred KB is refused (the run's max_image_pixels, the default here) before it is
    decoded; predict's file-by-file retry reports it alone."""
    from test_bit_model_serving import huge_png
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(huge_png())
    red = sorted((inputs / "colours" / "red").iterdir())[0]
    code, out, err = predict(capsys, "--model", serving_dir(pushed_run), "--json", red, bomb)
    assert code == common.EXIT_RUN, err
    good, refused = json_lines(out)
    assert good["predictions"][0]["class"] == "red"
    assert refused["file"] == str(bomb) and "12000x12000 pixels" in refused["error"]
    assert f"limit of this model, {pushed_run[0].max_image_pixels} pixels" in refused["error"]


# --- what a folder search takes ------------------------------------------------------------

def test_folder_search_skips_os_metadata_reports_fifos_and_follows_symlinked_folders(tmp_path):
    from bit_tfx.models import predict as predict_lib
    png = images.rgb_png()
    images.write(str(tmp_path / "elsewhere" / "b.png"), png)
    images.write(str(tmp_path / "in" / "a.png"), png)
    for junk in ("Thumbs.db", "desktop.ini", ".DS_Store", "._a.png"):
        images.write(str(tmp_path / "in" / junk), b"\0")
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "in" / "linked"))
    os.symlink(str(tmp_path / "in"), str(tmp_path / "in" / "loop"))  # followed once, not forever
    os.mkfifo(str(tmp_path / "in" / "pipe.png"))  # reading it would block for ever
    os.mkfifo(str(tmp_path / "given.png"))
    files, skipped = predict_lib.collect_files([str(tmp_path / "in"), str(tmp_path / "given.png")])
    assert files == [str(tmp_path / "in" / "a.png"), str(tmp_path / "in" / "linked" / "b.png")]
    assert [(r["file"], "not a regular file" in r["error"]) for r in skipped] == [
        (str(tmp_path / "in" / "pipe.png"), True), (str(tmp_path / "given.png"), True)]


def test_a_fifo_among_the_inputs_is_reported_not_waited_for(tmp_path, capsys):
    os.mkfifo(str(tmp_path / "pipe.png"))
    code, out, err = predict(capsys, "--model", str(tmp_path / "no-model"), "--json",
                             str(tmp_path / "pipe.png"))
    # Nothing is left to classify: exit 2 before any model loads, naming the skipped file.
    assert code == common.EXIT_CONFIG and "pipe.png" in err and "not a regular file" in err


# --- embeddings ---------------------------------------------------------------------------

@pytest.mark.pipeline
@pytest.mark.parametrize("suffix", [".npy", ".jsonl"])
def test_pushed_model_embeddings_for_a_folder(pushed_run, inputs, tmp_path, capsys, suffix):
    """serving_embeddings of every file, in order; the bad files are in the summary and in
    the JSON lines, not silently left out; --l2-normalize gives unit vectors of the same
    directions."""
    out_path = tmp_path / f"vectors{suffix}"
    code, out, err = predict(capsys, "--model", serving_dir(pushed_run), "--embeddings",
                             out_path, "--files-per-call", 4, inputs)
    assert code == common.EXIT_RUN, err
    summary = json.loads(out)
    good = sorted(str(p) for p in (inputs / "colours").rglob("*.png"))
    assert summary["rows"] == len(good) == 6 and summary["dim"] == 1024
    assert sorted(e["file"] for e in summary["errors"]) == [str(inputs / "truncated.png"),
                                                            str(inputs / "x.png")]
    if suffix == ".npy":
        vectors = np.load(out_path)
        files = (tmp_path / "vectors.files.txt").read_text().splitlines()
    else:
        lines = json_lines(out_path.read_text())
        assert len(lines) == 8 and sum("error" in r for r in lines) == 2
        files = [r["file"] for r in lines if "embedding" in r]
        vectors = np.array([r["embedding"] for r in lines if "embedding" in r], np.float32)
    assert sorted(files) == good and vectors.shape == (6, 1024)
    # Red images are closer to each other than to blue ones.
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    colour = np.array(["/red/" in f for f in files])
    similarity = unit @ unit.T
    assert similarity[colour][:, colour].mean() > similarity[colour][:, ~colour].mean()

    normalised = tmp_path / f"unit{suffix}"
    code, out, err = predict(capsys, "--model", serving_dir(pushed_run), "--embeddings",
                             normalised, "--l2-normalize", *good)
    assert code == 0, err
    assert json.loads(out)["output"] == "embedding_l2"
    if suffix == ".npy":
        np.testing.assert_allclose(np.load(normalised), unit[[files.index(f) for f in good]],
                                   atol=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["--embeddings", "{tmp}/v.csv"], "--embeddings {tmp}/v.csv: name it .npy"),
    (["--embeddings", "{tmp}/no/v.npy"], "the folder {tmp}/no does not exist"),
    (["--l2-normalize"], "--l2-normalize applies to --embeddings only"),
])
def test_bad_embeddings_options_exit_2_naming_them(argv, message, tmp_path, capsys):
    image = tmp_path / "a.png"
    images.write(str(image), images.rgb_png())
    fill = dict(tmp=tmp_path)
    code, out, err = predict(capsys, "--model", tmp_path, *[a.format(**fill) for a in argv], image)
    assert code == common.EXIT_CONFIG and out == ""
    assert message.format(**fill) in err


def test_embeddings_refuse_an_imagenet_classifier(tmp_path, capsys):
    image = tmp_path / "a.png"
    images.write(str(image), images.rgb_png())
    code, _, err = predict(capsys, "--model", "BiT-M-R50x1-ILSVRC2012", "--embeddings",
                           tmp_path / "v.npy", image)
    assert code == common.EXIT_CONFIG and "--embeddings needs a pushed model" in err


# --- one header reader for ingestion and predict (issue 24) ----------------------------------

PNG_SIGNATURE_THEN_JUNK = b"\x89PNG\r\n\x1a\n" + b"this is no PNG header, only junk bytes. " * 3


def _ingestion_says(data):
    """What ingestion's check (image_check, the quarantine reason and detail) says of `data`."""
    from bit_tfx.core import image_check
    with pytest.raises(image_check.BadImage) as bad:
        image_check.inspect_image(data)
    return str(bad.value)


def test_the_serving_header_reader_takes_a_png_signature_then_junk_for_no_header():
    from bit_tfx.models.bit import signatures
    assert signatures.header_size(tf.constant(PNG_SIGNATURE_THEN_JUNK)).numpy().tolist() == [0, 0]
    assert signatures.header_size(tf.constant(images.rgb_png(30, 20))).numpy().tolist() == [30, 20]
    # No "send it downscaled": the pixel check passes it, the decoder refuses it.
    signatures.check_pixels(tf.constant([PNG_SIGNATURE_THEN_JUNK]), tf.constant(1000, tf.int64))


def test_predict_gives_ingestion_s_reason_for_the_same_file(tiny_imagenet, photos, tmp_path,
                                                           capsys):
    junk, truncated = tmp_path / "junk.png", tmp_path / "truncated.png"
    junk.write_bytes(PNG_SIGNATURE_THEN_JUNK)
    good = photos[0].read_bytes()
    truncated.write_bytes(good[: len(good) // 2])
    code, out, err = predict(capsys, "--model", tiny_imagenet[1], "--resolution", SIZE, "--json",
                             junk, photos[0], truncated)
    assert code == common.EXIT_RUN, err
    first, second, third = json_lines(out)
    assert first == {"file": str(junk), "error": _ingestion_says(PNG_SIGNATURE_THEN_JUNK)}
    assert first["error"].startswith("not_an_image: no image header recognised: not a JPEG, PNG")
    assert "predictions" in second
    assert third == {"file": str(truncated), "error": _ingestion_says(truncated.read_bytes())}
    assert third["error"].startswith("undecodable: TensorFlow cannot decode it (Invalid PNG data")

"""What every pushed version serves beyond serving_default: top-k per image, embeddings,
TF Serving's warm-up requests and the TFLite files. The fast tests build a tiny classifier
with a random head; the pipeline tests read a really pushed version (conftest pushed_run)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import images
from bit_tfx.core import keys
from bit_tfx.models.bit import build_classifier, signatures
from bit_tfx.models.export import saved_model as export, tflite, warmup

SIZE = 32
CLASSES = ["cat", "dog", "fox", "owl"]


class _Module(signatures.BytesServingModule):
    def _images_from_bytes(self, image_bytes):
        return signatures.decode_and_resize(image_bytes, SIZE)


@pytest.fixture(scope="module")
def model():
    """random:tiny with a random head (the builder's head is zero: all classes equal); seeded,
    so every run checks the same model."""
    import tf_keras
    tf_keras.utils.set_random_seed(3)
    model = build_classifier("random:tiny", len(CLASSES))
    head = model.get_layer(export.resnet_v2.HEAD_NAME)
    rng = np.random.default_rng(3)
    head.kernel.assign(rng.normal(0, 0.05, head.kernel.shape).astype(np.float32))
    head.bias.assign(rng.normal(0, 0.5, head.bias.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def module(model):
    return _Module(model, CLASSES, name="test", features=export.features_model(model)).trace()


@pytest.fixture(scope="module")
def photos():
    return [images.rgb_png(40, 50, seed=s) for s in range(3)] + [images.rgb_jpeg(60, 30, seed=9)]


def test_top_k_gives_k_classes_per_image_padded_to_the_widest(module, photos):
    full = module.serve_bytes(tf.constant(photos))
    out = module.serve_top_k(tf.constant(photos), tf.constant([1, 2, 0, 99]))
    classes, scores = out["classes"].numpy(), out["scores"].numpy()
    assert classes.shape == scores.shape == (4, len(CLASSES))   # widest: 0 and 99 mean all
    np.testing.assert_array_equal(classes[2], full["classes"].numpy()[2])
    np.testing.assert_array_equal(classes[3], full["classes"].numpy()[3])
    assert list(classes[0]) == [full["classes"].numpy()[0, 0], b"", b"", b""]
    assert list(scores[1, 2:]) == [0.0, 0.0]
    np.testing.assert_allclose(scores[1, :2], full["scores"].numpy()[1, :2])
    narrow = module.serve_top_k(tf.constant(photos[:2]), tf.constant([1, 1]))
    assert narrow["classes"].shape == (2, 1)


def test_top_k_wants_one_k_per_image(module, photos):
    with pytest.raises(tf.errors.InvalidArgumentError, match="one k per image"):
        module.serve_top_k(tf.constant(photos), tf.constant([3]))


def test_embeddings_are_what_the_head_sees_raw_and_l2_normalised(model, module, photos):
    out = module.serve_embeddings(tf.constant(photos))
    embedding, l2 = out["embedding"].numpy(), out["embedding_l2"].numpy()
    assert embedding.shape == (4, 1024)   # tiny: 256 * 4 channels
    head = model.get_layer(export.resnet_v2.HEAD_NAME)
    logits = embedding @ head.kernel.numpy().reshape(1024, -1) + head.bias.numpy()
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(),
                               tf.nn.softmax(model(signatures.decode_and_resize(
                                   tf.constant(photos), SIZE))).numpy(), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(l2, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(l2, embedding / np.linalg.norm(embedding, axis=1, keepdims=True),
                               atol=1e-6)


@pytest.fixture(scope="module")
def tflite_dir(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("tflite")
    tflite.convert(model, SIZE, CLASSES, str(out))
    return out


def test_tflite_variants_agree_with_the_model_within_their_tolerance(model, tflite_dir, photos):
    pixels = signatures.decode_and_resize(tf.constant(photos), SIZE).numpy()
    expected = tf.nn.softmax(model(pixels)).numpy()
    assert len(set(expected.argmax(1))) > 1   # the head separates these images
    top2 = np.sort(expected, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    for name, atol in tflite.VARIANTS.items():
        got = tflite.run(str(tflite_dir / name), pixels)
        np.testing.assert_allclose(got, expected, atol=atol, err_msg=name)
        # The same top-1 wherever the tolerance cannot flip it (the backbone is random, so
        # some images are near-ties that quantisation may swap within its tolerance).
        clear = margin > 2 * atol
        assert clear.any(), (name, margin)
        np.testing.assert_array_equal(got.argmax(1)[clear], expected.argmax(1)[clear], err_msg=name)
    assert tflite.read_labels(str(tflite_dir)) == CLASSES
    info = json.loads((tflite_dir / keys.TFLITE_INFO).read_text())
    assert info["input"]["shape"] == [1, SIZE, SIZE, 3]
    sizes = {n: f["bytes"] for n, f in info["files"].items()}
    assert sizes[keys.TFLITE_DYNAMIC_RANGE] < sizes[keys.TFLITE_FLOAT32] / 3  # int8 weights


def test_tflite_labels_refuse_a_name_with_a_line_break(model, tmp_path):
    with pytest.raises(ValueError, match="has a line break"):
        tflite.convert(model, SIZE, ["a", "b\nc", "d", "e"], str(tmp_path))


def _replay(loaded, requests):
    """Each warm-up request through the signature it names, as TF Serving does at load."""
    answers = []
    for request in requests:
        signature = loaded.signatures[request.model_spec.signature_name]
        answers.append((request.model_spec.signature_name,
                        signature(**{k: tf.constant(tf.make_ndarray(v))
                                     for k, v in request.inputs.items()})))
    return answers


def test_warmup_requests_run_through_the_signatures_they_name(module, tmp_path):
    served = {keys.SIGNATURE_CLASSIFY: module.serve_bytes.get_concrete_function(),
              keys.SIGNATURE_TOP_K: module.serve_top_k.get_concrete_function(),
              keys.SIGNATURE_EMBEDDINGS: module.serve_embeddings.get_concrete_function()}
    tf.saved_model.save(module, str(tmp_path), signatures=served)
    path = warmup.write(str(tmp_path))
    assert path == str(tmp_path / keys.WARMUP_FILE)
    answers = dict(_replay(tf.saved_model.load(str(tmp_path)), warmup.read(path)))
    assert sorted(answers) == sorted(warmup.WARMUP_SIGNATURES)
    assert answers[keys.SIGNATURE_CLASSIFY]["classes"].shape == (2, len(CLASSES))
    assert answers[keys.SIGNATURE_TOP_K]["classes"].shape == (2, 5 if len(CLASSES) >= 5 else
                                                              len(CLASSES))
    assert answers[keys.SIGNATURE_EMBEDDINGS]["embedding"].shape == (2, 1024)


# --- a really pushed version ---------------------------------------------------------------

def _version(pushed_run):
    return pushed_run[1].pushed_to


@pytest.mark.pipeline
def test_pushed_version_carries_warmup_tflite_and_embeddings(pushed_run):
    version = _version(pushed_run)
    for relative in (keys.WARMUP_FILE, *(os.path.join(keys.TFLITE_DIR, n) for n in
                     (*tflite.VARIANTS, keys.TFLITE_LABELS, keys.TFLITE_INFO))):
        assert os.path.isfile(os.path.join(version, relative)), relative
    loaded = tf.saved_model.load(version)
    assert set(loaded.signatures) == {keys.SIGNATURE_CLASSIFY, keys.SIGNATURE_TOP_K,
                                      keys.SIGNATURE_EMBEDDINGS, keys.SIGNATURE_EXAMPLES,
                                      keys.SIGNATURE_TRANSFORM}
    answers = _replay(loaded, warmup.read(os.path.join(version, keys.WARMUP_FILE)))
    assert [name for name, _ in answers] == list(warmup.WARMUP_SIGNATURES)
    classes = {name: out for name, out in answers}[keys.SIGNATURE_CLASSIFY]["classes"].numpy()
    assert sorted(classes[0]) == [b"blue", b"red"]


@pytest.mark.pipeline
def test_pushed_tflite_matches_the_saved_model_on_the_run_s_images(pushed_run):
    """Real images of the run, decoded as the Transform graph decodes them, through each
    .tflite with TensorFlow's interpreter, against the pushed SavedModel's serving_default."""
    config, summary, data = pushed_run
    version = _version(pushed_run)
    tflite_dir = os.path.join(version, keys.TFLITE_DIR)
    info = json.loads(open(os.path.join(tflite_dir, keys.TFLITE_INFO)).read())
    size = info["input"]["shape"][1]
    files = sorted(str(p) for label in ("red", "blue") for p in sorted((data / label).iterdir())[:4])
    encoded = [open(f, "rb").read() for f in files]
    out = tf.saved_model.load(version).signatures[keys.SIGNATURE_CLASSIFY](
        image_bytes=tf.constant(encoded))
    labels = tflite.read_labels(tflite_dir)
    expected = np.zeros((len(files), len(labels)), np.float32)
    for row, (names, scores) in enumerate(zip(out["classes"].numpy(), out["scores"].numpy())):
        for name, score in zip(names, scores):
            expected[row, labels.index(name.decode())] = score
    pixels = signatures.decode_and_resize(tf.constant(encoded), size).numpy()
    for name, atol in tflite.VARIANTS.items():
        got = tflite.run(os.path.join(tflite_dir, name), pixels)
        np.testing.assert_allclose(got, expected, atol=atol, err_msg=name)
        np.testing.assert_array_equal(got.argmax(1), expected.argmax(1), err_msg=name)
    assert [labels[i] for i in expected.argmax(1)] == [os.path.basename(os.path.dirname(f))
                                                        for f in files]


def _docs_block(title):
    """The fenced block after the line `title` in docs/operations.md."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "docs", "operations.md"), encoding="utf-8").read()
    after = text[text.index(title):]
    start = after.index("```\n") + 4
    return after[start:after.index("```", start)]


@pytest.mark.pipeline
def test_saved_model_cli_show_matches_docs(pushed_run):
    """The signatures in docs/operations.md are what saved_model_cli prints for the test's
    pushed version (2 classes, random:tiny: 1024-wide embeddings), tensor names left out."""
    version = _version(pushed_run)
    documented = _docs_block("<!-- saved_model_cli show: serving signatures -->")
    actual = []
    for name in (keys.SIGNATURE_CLASSIFY, keys.SIGNATURE_TOP_K, keys.SIGNATURE_EMBEDDINGS):
        shown = subprocess.run(
            [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
             version, "--tag_set", "serve", "--signature_def", name],
            capture_output=True, text=True, check=True).stdout
        # Graph tensor names (StatefulPartitionedCall_N:0) are the tracer's, not the contract.
        shown = "\n".join(line for line in shown.strip().splitlines()
                          if not line.strip().startswith("name: "))
        actual.append(f"$ saved_model_cli show --dir VERSION --tag_set serve --signature_def {name}\n"
                      + shown + "\n")
    assert documented.strip() == "\n".join(actual).strip()


# --- the model card lists them ---------------------------------------------------------------

def _serving_fact(tflite_present=True, warmup=True):
    tensor = {"dtype": "string", "shape": [-1]}
    return {"signatures": {keys.SIGNATURE_EMBEDDINGS: {
                "inputs": {keys.INPUT_IMAGE_BYTES: tensor},
                "outputs": {"embedding": {"dtype": "float32", "shape": [-1, 2048]}}}},
            "warmup_requests": keys.WARMUP_FILE if warmup else None,
            "tflite": {"input": {"name": "images", "dtype": "float32", "shape": [1, 128, 128, 3]},
                       "labels": "assets.extra/tflite/labels.txt",
                       "files": [{"path": "assets.extra/tflite/model_float32.tflite",
                                  "bytes": 94_000_000, "probability_atol": 1e-5,
                                  "present": tflite_present}]}}


def test_model_card_lists_signatures_warmup_and_tflite_and_says_what_is_missing():
    from bit_tfx.components.model_card import card
    text = "\n".join(card.serving_lines(_serving_fact()))
    assert "| `serving_embeddings` | `image_bytes` string [None] | `embedding` float32 [None, 2048] |" \
        in text
    assert "warm-up requests: `assets.extra/tf_serving_warmup_requests`" in text
    assert "float32 1x128x128x3" in text and "94.0 MB" in text and "1e-05" in text
    missing = "\n".join(card.serving_lines(_serving_fact(tflite_present=False, warmup=False)))
    assert "warm-up requests: MISSING" in missing and "(MISSING)" in missing
    assert card.serving_lines(None) == ["Not available: no trained model."]


def test_report_page_lists_signatures_warmup_and_tflite_and_says_what_is_missing():
    import test_report
    from bit_tfx.pipeline import report
    data = test_report.sample(blessed=True)
    data["serving"] = _serving_fact()
    section = report.render(data).split('<section id="serving">')[1].split("</section>")[0]
    assert "<code>serving_embeddings</code>" in section and "float32 [None, 2048]" in section
    assert "<code>assets.extra/tf_serving_warmup_requests</code>" in section
    assert "model_float32.tflite</code>: 94.0 MB" in section and "MISSING" not in section
    data["serving"] = _serving_fact(tflite_present=False, warmup=False)
    section = report.render(data).split('<section id="serving">')[1].split("</section>")[0]
    assert "warm-up requests: MISSING" in section and "(MISSING)" in section


@pytest.mark.pipeline
def test_pushed_model_card_lists_what_the_version_serves(pushed_run):
    card_text = open(os.path.join(_version(pushed_run), keys.ASSETS_EXTRA, "model_card.md"),
                     encoding="utf-8").read()
    section = card_text.split("## Serving artifacts")[1].split("\n## ")[0]
    for name in (keys.SIGNATURE_CLASSIFY, keys.SIGNATURE_TOP_K, keys.SIGNATURE_EMBEDDINGS,
                 keys.WARMUP_FILE, keys.TFLITE_FLOAT32, keys.TFLITE_DYNAMIC_RANGE):
        assert name in section, name
    assert "MISSING" not in section


def test_vertex_request_bodies_reach_image_bytes(module, photos, tmp_path):
    """The bodies a Vertex prebuilt TF container forwards to TF Serving's REST API, turned
    into tensors by the rules TF Serving documents for them (TF Serving does not install
    here): one input, so a bare {"b64"} instance is it; a named instance uses image_bytes,
    whose `_bytes` suffix marks it binary for Vertex."""
    import base64
    signature = module.serve_bytes.get_concrete_function()
    inputs = signature.structured_input_signature[0]
    assert len(inputs) == 1 and inputs[0].name == keys.INPUT_IMAGE_BYTES
    assert inputs[0].name.endswith("_bytes") and inputs[0].dtype == tf.string
    encoded = [base64.b64encode(p).decode() for p in photos[:2]]
    bare = json.loads(json.dumps({"instances": [{"b64": e} for e in encoded]}))
    named = json.loads(json.dumps({"instances": [{keys.INPUT_IMAGE_BYTES: {"b64": e}}
                                                 for e in encoded]}))
    from_bare = [base64.b64decode(i["b64"]) for i in bare["instances"]]
    from_named = [base64.b64decode(i[keys.INPUT_IMAGE_BYTES]["b64"]) for i in named["instances"]]
    assert from_bare == from_named == photos[:2]
    out = module.serve_bytes(tf.constant(from_bare))
    np.testing.assert_array_equal(out["classes"].numpy(),
                                  module.serve_bytes(tf.constant(photos[:2]))["classes"].numpy())

"""The evaluation report (pipeline/report/) and the model card (components/model_card/).

Fast: rendering from a hand-made dict (escaping, missing parts), the card's Markdown and
HTML, the CLI's errors for a folder that is not a run and for a damaged metadata.sqlite, and
the page in headless Chromium.
Pipeline (the shared `pushed_run`, never written into): the report of a real run, the card
in the pushed version, `bit-tfx run` writing the report at its end (`rerun`, on a copy), and
broken runs: an evaluation folder gone, a copied run folder, a store whose artifacts live
elsewhere.
"""
import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile

import pytest
from PIL import Image

from bit_tfx.core import keys
from bit_tfx.core import rule
from bit_tfx.components.model_card import card
from bit_tfx.cli import common, main as cli
from bit_tfx.pipeline import metadata, report

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1280, 2400)
EVIL_CLASS = "<script>alert(1)</script>"
EVIL_FILE = '"><img src=x onerror=alert(2)>.png'
FAILURE = "sparse_categorical_accuracy is 0.5500, below the minimum 0.7500"
REFUSED_RED = (198, 40, 40)   # the NOT BLESSED badge (#c62828)
BLESSED_GREEN = (31, 138, 76)  # the BLESSED badge (#1f8a4c)


# --- a hand-made report dict: the shape collect() returns -----------------------------------

def _thumbnail(colour):
    out = io.BytesIO()
    Image.new("RGB", (96, 96), colour).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _split(n, per_class):
    size = {"min": 32.0, "max": 128.0, "mean": 60.0, "median": 64.0}
    return {"num_examples": n, "num_classes": len(per_class), "median_height": 64.0,
            "median_width": 64.0, "height": size, "width": size, "class_counts": per_class}


def sample(blessed=False):
    classes = ["cat", EVIL_CLASS]
    return {
        "pipeline_name": "bit-tfx", "run_dir": "/runs/pets", "generated": "2026-01-02 03:04:05 UTC",
        "data": {"span": 3, "input_base": "/data/<b>pets</b>", "examples": "/runs/pets/examples/1",
                 "splits": {"train": _split(90, {"cat": 45, EVIL_CLASS: 45}),
                            "eval": _split(20, {"cat": 10, EVIL_CLASS: 10})}},
        "decision": rule.decide(90, 2, 64 * 64, batch_size=16, batch_policy="scale_lr").to_json(),
        "model": {"uri": "/runs/pets/Trainer/model/10", "model_spec": "random:tiny", "classes": classes},
        "metrics": {"overall": {"sparse_categorical_accuracy": 0.55, "example_count": 20.0},
                    "per_class": [{"id": 0, "name": "cat", "examples": 10.0, "precision": 0.6, "recall": 0.3},
                                  {"id": 1, "name": EVIL_CLASS, "examples": 10.0, "precision": None,
                                   "recall": 0.0}],
                    "confusion": {"labels": classes, "matrix": [[3, 7], [2, 8]]}},
        "verdict": {"blessed": blessed, "baseline": None, "failures": [] if blessed else [FAILURE],
                    "thresholds": [{"metric": "sparse_categorical_accuracy", "is_diff": False, "op": ">=",
                                    "bound": 0.75, "value": 0.55, "passed": blessed}]},
        "training": {"loss": [[10, 0.9], [20, 0.5], [30, 0.4]], "accuracy": [[10, 0.5], [20, 0.7], [30, 0.8]],
                     "learning_rate": [[10, 0.01], [20, 0.001], [30, 0.0001]]},
        "confused": {"max_examples": 256, "scanned": 20, "wrong": 9,
                     "shown": [{"file": EVIL_FILE, "true": EVIL_CLASS, "predicted": "cat", "confidence": 0.9,
                                "true_probability": 0.1, "thumbnail": _thumbnail((200, 160, 40))},
                               {"file": "cat/2.png", "true": "cat", "predicted": EVIL_CLASS,
                                "confidence": 0.7, "true_probability": 0.3, "thumbnail": None}]},
        "model_card": None,
        "lineage": {"run_id": "2026-01-02T03:00:00", "started": "2026-01-02 03:00:00 UTC",
                    "executions": [{"node": "Trainer", "id": 10, "state": "COMPLETE",
                                    "started": "2026-01-02 03:01:00 UTC", "seconds": 12.5}],
                    "trainer_config": {"model_spec": "random:tiny"}, "hyperparameters": "/runs/pets/hp/5",
                    "pushed": [], "pusher_ran": True},
        "notes": {"model_card": "the newest run has no ModelCardGen execution"},
    }


def hyperrule_only():
    """A run that stopped after the HyperRule (e.g. `bit-tfx hyperrule`)."""
    data = sample()
    data.update(model=None, metrics=None, verdict=None, training=None, confused=None)
    data["lineage"].update(trainer_config=None, pusher_ran=False, executions=[
        {"node": "HyperRule", "id": 5, "state": "COMPLETE", "started": "2026-01-02 03:00:30 UTC", "seconds": 0.1}])
    data["notes"] = {part: "the newest run has no Trainer execution (it stopped earlier)"
                     for part in ("model", "metrics", "verdict", "training", "confused", "model_card")}
    return data


def _assert_no_markup_from_data(page):
    """The hostile class, file and folder names appear only as escaped text."""
    assert "<script" not in page.lower() and "<img src=x" not in page and "<b>pets" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- fast: rendering ----------------------------------------------------------------------

def test_render_escapes_class_and_file_names():
    page = report.render(sample())
    _assert_no_markup_from_data(page)
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;.png" in page  # the file name, as text
    assert "&lt;b&gt;pets&lt;/b&gt;" in page
    assert 'id="verdict">NOT BLESSED<' in page and FAILURE in page and "FAILED" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch when opened
    assert page.count("<svg") == 4  # three training curves and the confusion matrix


def test_render_lists_duplicates_and_imbalance():
    data = sample()
    data["data_checks"] = {
        "quarantine_report": "/q.json", "bad_files": 0, "skipped_files": 0,
        "duplicates_across_splits": 1, "eval_duplicates_dropped": 1, "duplicates_within_split": 0,
        "near_duplicates": 0,
        "imbalanced_classes": {"<i>rare</i>": 3}, "eval_policy": "drop", "within_split": [],
        "across_splits": [{"files": [{"file": "eval/a/copy.jpg", "split": "eval", "label": "a"},
                                     {"file": "train/a/x.jpg", "split": "train", "label": "a"}]}]}
    section = report.render(data).split('id="data-checks"')[1].split("</section>")[0]
    assert "eval copies left out of the evaluation: 1" in section
    assert "<code>eval/a/copy.jpg</code> (eval, a) = <code>train/a/x.jpg</code> (train, a)" in section
    assert "&lt;i&gt;rare&lt;/i&gt; (3)" in section and "--class-weighted" in section


def test_render_missing_parts_says_not_available():
    page = report.render(hyperrule_only())
    assert 'id="verdict">not evaluated<' in page
    for section in ("gate", "metrics", "confused", "training"):
        body = page.split(f'<section id="{section}">')[1].split("</section>")[0]
        assert "Not available: the newest run has no Trainer execution (it stopped earlier)." in body, section
    assert "resize to 160, random crop to 128" in page  # the decision is still there
    markdown = card.render_markdown(hyperrule_only())
    assert "Not available: the model was not evaluated." in markdown


def test_render_blessed_and_pushed_here():
    data = sample(blessed=True)
    data["lineage"]["pushed"] = [{"version": "1795000000", "destination": "/srv/1795000000",
                                  "execution": 12, "time": "2026-01-02 03:02:00 UTC", "this_run": True}]
    page = report.render(data)
    assert 'id="verdict">BLESSED<' in page and "pushed version <b>1795000000</b>" in page
    assert FAILURE not in page


def test_render_shows_the_backbone_s_k_shot_transfer_curve_when_it_has_one():
    data = sample(blessed=True)
    assert 'id="transfer"' not in report.render(data)  # a backbone without a measurement
    rows = [{"k": k, "train_examples": 10 * n, "eval_examples": 360, "crop": 128,
             "method": "linear_probe", "pretrained": p, "random": r, "gain": p - r}
            for k, n, p, r in ((1, 1, 0.31, 0.12), (5, 5, 0.62, 0.2), ("full", 144, 0.91, 0.55))]
    data["transfer"] = {"rows": rows, "pretrained": "fractal_small", "random": "random:small"}
    page = report.render(data)
    section = page.split('<section id="transfer">')[1].split("</section>")[0]
    assert section.count("<svg") == 1 and "random init" in section and "+36.0 points" in section
    assert ">full<" in section and "360 images" in section and "linear probe at 128 px" in section
    assert "after fine-tuning" not in section  # probe rows are not titled as fine-tuning
    assert "linear probe, pre-trained" in section and "fine-tuned, pre-trained" not in section


def test_the_transfer_chart_puts_fine_tuning_probe_and_this_run_side_by_side():
    data = sample(blessed=True)
    probe = [{"k": k, "train_examples": 10 * k, "eval_examples": 364, "crop": 128,
              "method": "linear_probe", "pretrained": p, "random": r, "gain": p - r}
             for k, p, r in ((1, 0.36, 0.09), (10, 0.79, 0.13))]
    tuned = [dict(r, method="fine_tune", steps=500, batch=16, pretrained=r["pretrained"] + 0.01,
                  pretrained_se=0.02, random_se=0.01) for r in probe]
    data["transfer"] = {"rows": tuned + probe, "pretrained": "fractal_small", "random": "random:small"}
    section = report.render(data).split('<section id="transfer">')[1].split("</section>")[0]
    for legend in ("fine-tuned, pre-trained", "fine-tuned, random init", "linear probe, pre-trained",
                   "linear probe, random init"):
        assert legend in section
    accuracy = data["metrics"]["overall"]["sparse_categorical_accuracy"]
    assert f"this run {accuracy:g}" in section  # the run's own accuracy beside the curves
    assert "fine-tune 500 x 16" in section and "&plusmn; 0.02" in section


def test_an_upstream_recipe_is_titled_and_listed_as_such():
    from bit_tfx.core import upstream
    data = sample(blessed=True)
    data["decision"] = upstream.decide(7200, 100, batch_size=64, batch_policy="scale_lr",
                                       overrides={"epochs": 12, "decay_epochs": [4, 8, 11], "crop_size": 64}).to_json()
    page = report.render(data)
    assert "BiT upstream recipe (pre-training)" in page and "Inception random resized crop" in page
    assert "epochs 12 (the recipe&#39;s: 90)" in page or "epochs 12 (the recipe's: 90)" in page
    markdown = card.render_markdown(data)
    assert "pre-trained BigTransfer (BiT) backbone" in markdown and "weight decay | 0.0001" in markdown
    assert "SMOKE MODEL" not in markdown


def test_model_card_markdown_and_html_escape_and_state_the_facts():
    facts = sample()
    markdown = card.render_markdown(facts)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown and "<script" not in markdown
    for text in ("## Intended use", "## Limitations", "**NOT BLESSED**", "| cat | 45 | 10 |",
                 "sparse\\_categorical\\_accuracy", "SMOKE MODEL", "span 3",
                 "resize to 160, random crop to 128"):
        assert text in markdown, text
    page = card.render_html(markdown)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>pets" not in page and "/data/&lt;b&gt;pets&lt;/b&gt;" in page
    assert "<table>" in page and "<td>cat</td>" in page


def test_the_card_and_the_report_say_what_training_changed():
    facts = sample(blessed=True)
    assert "- Trained:" not in card.render_markdown(facts)  # a run recorded without it: not guessed
    facts["model"].update(linear_probe=False, freeze_until=None, mixed_precision="none")
    assert "- Trained: every layer (full fine-tuning, as the BiT-HyperRule does)" in card.render_markdown(facts)
    facts["model"].update(freeze_until="block2", mixed_precision="bfloat16")
    expected = ("block3, block4 and the head; root_block to block2 frozen (not the BiT-HyperRule's); "
                "bfloat16 mixed precision")
    assert f"- Trained: {card.escape(expected)}" in card.render_markdown(facts)  # Markdown-escaped
    assert expected.replace("'", "&#39;") in report.render(facts)
    facts["model"].update(linear_probe=True, freeze_until=None, mixed_precision="none")
    assert "the head only: a linear probe, the backbone frozen" in card.render_markdown(facts)


def test_report_of_a_folder_without_metadata_names_it(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == common.EXIT_CONFIG
    error = capsys.readouterr().err
    assert os.path.join(str(tmp_path), "metadata.sqlite") in error and "--output" in error


def _fresh_store(path):
    """A real ML Metadata store (SQLite) with its tables and nothing in them."""
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    metadata_store.MetadataStore(config)


@pytest.mark.parametrize("damage", ["not_sqlite", "empty", "truncated"])
def test_report_of_a_corrupt_metadata_store_names_the_file(tmp_path, capsys, damage):
    store = tmp_path / "metadata.sqlite"
    if damage == "not_sqlite":
        store.write_bytes(b"not a database\n" * 300)
    elif damage == "empty":
        store.write_bytes(b"")
    else:  # a real store cut short, as by a full disk or an interrupted copy
        _fresh_store(store)
        store.write_bytes(store.read_bytes()[:8192])
    assert cli.main(["report", str(tmp_path)]) == common.EXIT_CONFIG
    captured = capsys.readouterr()
    assert f"configuration error: {store} " in captured.err, captured.err
    assert "query" not in captured.err and "CREATE TABLE" not in captured.err  # no raw SQL
    assert captured.out == "" and not (tmp_path / "report").exists()


# --- headless Chromium ----------------------------------------------------------------------

def _chromium(*args):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("BIT_TFX_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{CHROMIUM} is missing but BIT_TFX_REQUIRE_CHROMIUM=1: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; "
                    "BIT_TFX_REQUIRE_CHROMIUM=1 makes this a failure)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *args],
            check=True, capture_output=True, text=True, timeout=120).stdout


def look(html_path, png_path):
    """Screenshot and DOM of the page as Chromium renders it."""
    url = "file://" + os.path.abspath(html_path)
    _chromium(f"--screenshot={png_path}", f"--window-size={WINDOW[0]},{WINDOW[1]}", url)
    dom = _chromium("--dump-dom", url)
    with Image.open(png_path) as image:
        pixels = image.convert("RGB")
    return pixels, dom


def _count(pixels, colour, tolerance=12):
    return sum(n for n, c in pixels.getcolors(maxcolors=WINDOW[0] * WINDOW[1])
               if all(abs(a - b) <= tolerance for a, b in zip(c, colour)))


def test_page_in_headless_chromium(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(report.render(sample()), encoding="utf-8")
    pixels, dom = look(page, tmp_path / "page.png")
    assert pixels.size == WINDOW
    assert len(pixels.getcolors(maxcolors=WINDOW[0] * WINDOW[1])) > 200  # text, charts, thumbnail
    assert _count(pixels, REFUSED_RED) > 1000  # the NOT BLESSED badge and FAILED marks show
    assert _count(pixels, (200, 160, 40), tolerance=3) >= 90 * 90  # the thumbnail is drawn
    assert "NOT BLESSED" in dom and FAILURE in dom
    _assert_no_markup_from_data(dom)
    assert "<svg" in dom and "<script" not in dom.lower()


# --- a real run -------------------------------------------------------------------------------

@pytest.mark.pipeline
def test_report_of_a_pushed_run(pushed_run, tmp_path, capsys):
    config, summary, _ = pushed_run
    out = tmp_path / "report"
    assert cli.main(["report", config.output, "--report-dir", str(out), "--max-examples", "2"]) == 0
    paths = json.loads(capsys.readouterr().out)
    assert paths == {"report": str(out / "index.html"), "data": str(out / "report.json"),
                     "model_card": str(out / "model_card.md")}
    with open(paths["data"]) as f:
        data = json.load(f)
    assert data["verdict"]["blessed"] and data["verdict"]["baseline"] is None
    assert data["verdict"]["thresholds"] == [{"metric": "sparse_categorical_accuracy", "is_diff": False,
                                              "op": ">=", "bound": 0.75, "passed": True,
                                              "value": summary.metrics["sparse_categorical_accuracy"]}]
    assert data["metrics"]["overall"] == summary.metrics
    assert sorted(c["name"] for c in data["metrics"]["per_class"]) == ["blue", "red"]
    matrix = data["metrics"]["confusion"]["matrix"]
    assert sum(map(sum, matrix)) == summary.metrics["example_count"]
    assert sum(c["examples"] for c in data["metrics"]["per_class"]) == summary.metrics["example_count"]
    assert data["decision"]["total_steps"] == 30 and data["data"]["splits"]["train"]["num_classes"] == 2
    assert sum(data["data"]["splits"]["train"]["class_counts"].values()) == \
        data["data"]["splits"]["train"]["num_examples"]
    assert [s for s, _ in data["training"]["loss"]] == [10, 20, 30]
    assert data["training"]["learning_rate"][-1][1] < data["training"]["learning_rate"][0][1]
    assert data["confused"]["scanned"] == 2 and data["confused"]["max_examples"] == 2
    pushed = [p for p in data["lineage"]["pushed"] if p["this_run"]]
    assert [p["version"] for p in pushed] == [str(summary.version)]
    assert data["lineage"]["trainer_config"]["model_spec"] == "random:tiny"
    nodes = {e["node"]: e["state"] for e in data["lineage"]["executions"]}
    assert nodes["ModelCardGen"] == nodes["Pusher"] == "COMPLETE"
    assert data["notes"] == {}
    # The ingestion's checks, in the run's JSON and on the page: LICENSE.txt skipped, no
    # duplicates, balanced classes.
    checks = summary.data_checks
    assert (checks["skipped_files"], checks["duplicates_across_splits"], checks["imbalanced_classes"]) == (1, 0, {})
    assert {k: v for k, v in data["data_checks"].items() if k in checks} == checks
    # report.json is the whole input of the page
    with open(paths["report"], encoding="utf-8") as f:
        assert report.render(data) == f.read()
    with open(os.path.join(summary.pushed_to, card.CARD_DIR, card.CARD_MARKDOWN)) as f, \
            open(paths["model_card"]) as g:
        assert f.read() == g.read()
    assert not os.path.exists(os.path.join(config.output, report.REPORT_DIR))  # the run is untouched

    pixels, dom = look(paths["report"], tmp_path / "report.png")
    assert pixels.size == WINDOW and _count(pixels, BLESSED_GREEN) > 1000
    assert 'id="verdict">BLESSED<' in dom and "<script" not in dom.lower()
    assert f"pushed version <b>{summary.version}</b>" in dom
    assert 'id="data-checks"' in dom
    assert f"by bit-tfx {summary.bit_tfx_version}</p>" in dom


@pytest.mark.pipeline
def test_pushed_version_carries_its_model_card(pushed_run):
    config, summary, _ = pushed_run
    extra = os.path.join(summary.pushed_to, card.CARD_DIR)
    with open(os.path.join(extra, card.CARD_MARKDOWN)) as f:
        markdown = f.read()
    accuracy = card.number(summary.metrics["sparse_categorical_accuracy"])
    for text in ("Classes (2): red, blue", "| red |", "| blue |", "**BLESSED**", f"| {accuracy} |",
                 "sparse\\_categorical\\_accuracy", "random:tiny", "## Intended use", "## Limitations",
                 "No model was serving", "- Trained: every layer (full fine-tuning",
                 f"- Written by bit-tfx {summary.bit_tfx_version}"):
        assert text in markdown, text
    assert os.path.exists(os.path.join(extra, card.CARD_HTML))
    # the rest of the pushed version is the Trainer's export, unchanged
    trained = summary.model
    for name in ("saved_model.pb", "variables/variables.index", "assets/labels",
                 "assets.extra/backbone/variables/variables.index", "assets.extra/backbone/saved_model.pb"):
        with open(os.path.join(trained, name), "rb") as a, open(os.path.join(summary.pushed_to, name), "rb") as b:
            assert a.read() == b.read(), name


def _rerun_on_a_copy(pushed_run, tmp_path, command, *extra):
    """`bit-tfx COMMAND` with the finished run's settings, on a copy of its output folder."""
    config, _, data = pushed_run
    output = tmp_path / "out"
    shutil.copytree(config.output, output)
    code = cli.main([command, "--data", str(data), "--output", str(output), "--batch-size",
                     str(config.batch_size), "--batch-policy", config.batch_policy,
                     "--schedule-override", json.dumps(config.schedule_override), *extra])
    return code, output


@pytest.fixture(scope="module")
def rerun(pushed_run, tmp_path_factory):
    """`bit-tfx run --force` once more on a copy of the finished run (same data, which without
    --force is a nothing-new run: tests/test_nothing_new.py): (its printed answer, the copy).
    The training branch ran again, into the copy's pipeline_root. A test that changes the copy
    puts it back."""
    config, _, _ = pushed_run
    answer = io.StringIO()
    with contextlib.redirect_stdout(answer):
        code, output = _rerun_on_a_copy(pushed_run, tmp_path_factory.mktemp("rerun"), "run",
                                        "--model", config.model_spec,
                                        "--min-accuracy", str(config.min_accuracy),
                                        "--checkpoint-every", str(config.checkpoint_every), "--force")
    assert code == 0
    return json.loads(answer.getvalue()), output


@pytest.mark.pipeline
def test_run_writes_the_report_and_the_next_run_compares_with_the_model_serving(pushed_run, rerun):
    """`bit-tfx run` on a copy of the finished run (same data): the report comes at the end,
    and the candidate was compared with the version serving in the copy's serving folder."""
    config, summary, _ = pushed_run
    second, output = rerun
    assert second["report"] == str(output / "report" / "index.html") and os.path.exists(second["report"])
    with open(output / "report" / "report.json") as f:
        data = json.load(f)
    served = os.path.join(str(output / "serving"), os.path.basename(summary.pushed_to))
    assert data["verdict"]["baseline"]["served_from"] == served
    assert any(t["is_diff"] for t in data["verdict"]["thresholds"])
    assert second["blessed"] and os.path.exists(
        os.path.join(second["pushed_to"], card.CARD_DIR, card.CARD_MARKDOWN))
    # --force trained again on the data the serving version was trained on (not the cache's model).
    store = metadata.open_store(str(output / "metadata.sqlite"))
    trainer = metadata.latest_execution(store, config.pipeline_name, keys.NODE_TRAINER)
    assert not metadata.was_cached(trainer) and second["verdict"] == "trained"
    # ... from a fresh ingestion: --force reuses nothing from the cache.
    gen = metadata.latest_execution(store, config.pipeline_name, keys.NODE_IMAGE_EXAMPLE_GEN)
    assert not metadata.was_cached(gen)


@pytest.mark.pipeline
def test_report_of_a_run_that_stopped_before_the_evaluator(pushed_run, tmp_path, capsys):
    """`bit-tfx hyperrule` after a full run: the newest run has no Trainer or Evaluator, and the
    report says so instead of showing the earlier run's evaluation."""
    code, output = _rerun_on_a_copy(pushed_run, tmp_path, "hyperrule")
    assert code == 0
    capsys.readouterr()
    paths = report.write_report(str(output), max_examples=8)
    with open(paths["data"]) as f:
        data = json.load(f)
    assert data["decision"]["total_steps"] == 30 and data["data"]["splits"]["eval"]["num_examples"] > 0
    assert data["verdict"] is data["metrics"] is data["training"] is data["confused"] is None
    assert paths["model_card"] is None
    assert "no Evaluator execution" in data["notes"]["verdict"]
    assert "Trainer" not in {e["node"] for e in data["lineage"]["executions"]}
    with open(paths["report"], encoding="utf-8") as f:
        page = f.read()
    assert 'id="verdict">not evaluated<' in page and "Not available: the newest run has no Evaluator" in page


# --- broken and moved runs --------------------------------------------------------------------

@pytest.mark.pipeline
def test_report_when_the_evaluators_output_is_gone(rerun, tmp_path, capsys):
    """The newest run's evaluation folder deleted: the report says which folder is missing
    and shows every other part; the gate and the metrics say "Not available" and why."""
    from bit_tfx.pipeline import configs, metadata
    _, output = rerun
    store = metadata.open_store(configs.RunConfig(data="", output=str(output)).validate().metadata_path)
    _, evaluation = metadata.latest_output(store, configs.PIPELINE_NAME, "Evaluator", "evaluation")
    assert evaluation.uri.startswith(str(output) + os.sep)  # the copy's own evaluation
    aside = tmp_path / "evaluation"
    shutil.move(evaluation.uri, aside)
    try:
        code = cli.main(["report", str(output), "--report-dir", str(tmp_path / "report"), "--max-examples", "0"])
    finally:
        shutil.move(aside, evaluation.uri)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err and "AttributeError" not in captured.err
    assert evaluation.uri in captured.err  # the warning names the missing folder
    with open(tmp_path / "report" / "report.json") as f:
        data = json.load(f)
    assert data["metrics"] is None and data["verdict"] is None
    for part in ("metrics", "verdict"):
        assert evaluation.uri in data["notes"][part] and "no longer exists" in data["notes"][part]
    assert data["data"] and data["decision"] and data["model"] and data["training"] and data["model_card"]
    with open(tmp_path / "report" / "index.html", encoding="utf-8") as f:
        page = f.read()
    assert 'id="verdict">not evaluated<' in page
    for section in ("gate", "metrics"):
        body = page.split(f'<section id="{section}">')[1].split("</section>")[0]
        assert "Not available: " in body and evaluation.uri in body, section


@pytest.mark.pipeline
def test_report_of_a_copied_run_folder_is_refused(pushed_run, tmp_path, capsys):
    """ML Metadata records absolute paths: a copy's store still names the original's artifacts,
    so a report would describe the original under the copy's name."""
    config, _, _ = pushed_run
    copy = tmp_path / "copy"
    shutil.copytree(config.output, copy)
    assert cli.main(["report", str(copy), "--max-examples", "0"]) == common.EXIT_CONFIG
    captured = capsys.readouterr()
    assert str(copy) in captured.err and config.pipeline_root in captured.err, captured.err
    assert captured.out == "" and not (copy / "report").exists()


@pytest.mark.pipeline
def test_report_of_a_store_whose_artifacts_live_elsewhere(pushed_run, tmp_path, capsys):
    """What `bit-tfx run --output DIR --pipeline-root ELSEWHERE` leaves in DIR: the store, and
    no pipeline_root. The report reads the artifacts where the run recorded them."""
    config, summary, _ = pushed_run
    shutil.copy(config.metadata_path, tmp_path / "metadata.sqlite")
    assert cli.main(["report", str(tmp_path), "--max-examples", "0"]) == 0
    with open(json.loads(capsys.readouterr().out)["data"]) as f:
        data = json.load(f)
    assert data["run_dir"] == str(tmp_path) and data["verdict"]["blessed"]
    assert data["model"]["uri"] == os.path.dirname(summary.model)  # under the run's own root
    assert data["notes"] == {"confused": "--max-examples 0: the scan was skipped"}

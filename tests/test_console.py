"""What an operator sees (issues 23, 24): exit codes, a quiet console with the libraries'
output in OUTPUT/logs, a progress line for every step, a full disk named as such. Fast
tests; the real runs are in tests/test_operator_run.py (slow)."""
import errno
import gc
import json
import logging
import re
import sqlite3
import subprocess
import sys

import pytest

from bit_tfx.cli import common, console
from bit_tfx.cli import main as cli
from runs import raised

# Every line a normal pipeline run prints on stderr: our own (cli/console.py lets nothing
# else through). tests/test_operator_run.py reads whole runs against them.
OWN_LINES = [re.compile(p) for p in (
    r"INFO Running pipeline \S+ locally \(root .+\)",
    r"INFO \[\d+/\d+\] \w+ (running|done in \d+\.\d s|reused from cache|skipped)",
    r"INFO Ingesting .+ \(\w+\): \d+ classes",
    r"(INFO|WARNING) Ingested \d+ images; .+",
    r"WARNING \d+ class\(es\) have no valid eval image, .+",
    r"WARNING \d+ folder\(s\) inside class folders were not read: .+",
    r"WARNING Reading .+ failed \(.+\); try \d+ of \d+ in .+",
    r"INFO This run trains: .+",
    r"WARNING Nothing new: .+",
    r"INFO No anomalies in .+",
    r"WARNING No baseline schema for the span-drift check: .+",
    r"INFO Nothing is serving .+",
    r"INFO Baseline model: .+",
    r"INFO No baseline model .+",
    r"INFO (HyperRule decision|Upstream recipe): resize \d+, .+; written to .+",
    r"INFO HyperRule (ran|cached): .+",
    r"INFO Schema written to .+",
    r"INFO No baseline schema .+",
    r"INFO Distribution: .+",
    r"INFO step \d+/\d+  loss .+",
    r"INFO Head initialised from a linear probe on \d+ training examples .+",
    r"INFO Trained \d+ steps in .+",
    r"INFO Exported the SavedModel, its TF Hub backbone and TFLite in .+",
    r"WARNING Nothing new, nothing trained: .+",
    r"INFO Pushed the nested SavedModel .+",
    r"INFO Model card written to .+",
    r"INFO Training schema shipped as .+",
    r"INFO Training data recorded in .+",
    r"INFO Blessed; pushed to .+",
    r"WARNING NOT blessed, not pushed: .+",
    r"INFO Report: .+",
    r"bit-tfx: log \(libraries included\): .+\.log",
)]


def strangers(stderr):
    """The lines of `stderr` that are not ours."""
    return [line for line in stderr.splitlines() if not any(p.fullmatch(line) for p in OWN_LINES)]

# ---- exit codes ---------------------------------------------------------------------------


def test_exit_codes_are_the_documented_numbers():
    assert (common.EXIT_OK, common.EXIT_RUN, common.EXIT_CONFIG, common.EXIT_REFUSED,
            common.EXIT_NOTHING_NEW, common.EXIT_INTERRUPTED, common.EXIT_TERMINATED) == \
        (0, 1, 2, 3, 4, 130, 143)


@pytest.mark.parametrize("command", ["run", "demo", "pretrain"])
def test_a_refused_candidate_exits_3_a_pushed_one_0(command):
    refused = {"blessed": False, "pushed_to": None, "not_blessed_because": ["..."]}
    assert cli.exit_code_of(command, refused) == common.EXIT_REFUSED
    # a fully cached re-run of a pushed run answers blessed with the version already pushed
    assert cli.exit_code_of(command, {"blessed": True, "pushed_to": "/s/1"}) == common.EXIT_OK


def test_hyperrule_answers_a_decision_and_exits_0():
    assert cli.exit_code_of("hyperrule", {"total_steps": 500}) == common.EXIT_OK


def _help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["demo", "--help"],
                                  ["pretrain", "--help"]])
def test_help_lists_the_exit_codes(argv, capsys):
    text = _help(argv, capsys)
    assert "exit codes:" in text, text
    for code, meaning in [(0, "pushed"), (1, "failure"), (2, "configuration error"),
                          (3, "refused by the gate"), (4, "nothing new"),
                          (130, "interrupted (Ctrl-C)"), (143, "stopped by SIGTERM")]:
        assert f"\n  {code:<4} {meaning}" in text, (code, text)


# ---- the console and the log file ----------------------------------------------------------

# A command's life in a fresh interpreter, without TensorFlow: what native code writes to
# fd 2, a library's log record and Python warning, a subprocess's stderr, and our own lines.
_CONSOLE_SCRIPT = r"""
import logging, os, subprocess, sys, warnings
from bit_tfx.cli import console
screen = console.Console(verbose=sys.argv[2] == "verbose")
screen.setup()
screen.start(sys.argv[1])
os.write(2, b"E0000 native.cc:1] Unable to register cuFFT factory\n")
logging.getLogger("tensorflow").warning("Tables initialized inside a tf.function")
logging.getLogger("absl").info("Component Trainer is running.")
warnings.warn("deprecated", DeprecationWarning)
subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('from a Beam worker\\n')"])
print("a library's print to stderr", file=sys.stderr)
logging.getLogger().handle(logging.makeLogRecord(dict(  # as our code logs it
    name="bit_tfx.progress", levelno=20, levelname="INFO", msg="[1/1] ours running",
    pathname=console.__file__)))
screen.stop()
screen.say("after: " + screen.log_path)
"""


def _console_run(tmp_path, mode):
    done = subprocess.run([sys.executable, "-W", "always", "-c", _CONSOLE_SCRIPT,
                           str(tmp_path / "out"), mode],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (log,) = (tmp_path / "out" / "logs").iterdir()
    return done.stderr, log


LIBRARY_LINES = ["Unable to register cuFFT factory", "Tables initialized inside a tf.function",
                 "Component Trainer is running.", "DeprecationWarning: deprecated",
                 "from a Beam worker", "a library's print to stderr"]


def test_library_output_goes_to_the_log_file_ours_to_stderr(tmp_path):
    err, log = _console_run(tmp_path, "quiet")
    assert err.splitlines() == ["INFO [1/1] ours running", f"after: {log}"], err
    assert log.name.endswith(".log") and log.parent.name == "logs"
    text = log.read_text()
    for line in LIBRARY_LINES:
        assert line in text, (line, text)


def test_verbose_shows_everything_on_stderr(tmp_path):
    err, log = _console_run(tmp_path, "verbose")
    for line in LIBRARY_LINES + ["INFO [1/1] ours running"]:
        assert line in err, (line, err)
    assert "Tables initialized" in log.read_text()  # the Python records are logged too


def test_a_real_command_shows_only_our_lines_and_logs_the_rest(tmp_path):
    """`bit-tfx hyperrule` for real (TensorFlow, TFX, Beam): ingestion to the HyperRule."""
    import runs
    runs.colour_images(str(tmp_path / "images"), 10, seed=1)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "bit_tfx.cli.main", "hyperrule", "--data",
                           str(tmp_path / "images"), "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_steps"] > 0
    assert strangers(done.stderr) == [], done.stderr
    steps = re.findall(r"^INFO \[(\d+)/(\d+)\] \w+ done in ", done.stderr, re.M)
    total = int(steps[0][1])
    # Every step of the DAG up to the HyperRule done, in order; a step that took over a second
    # said first that it was running (ImageExampleGen always does: Beam starts).
    assert [int(n) for n, _ in steps] == list(range(1, total + 1)) and total >= 6, done.stderr
    assert re.search(r"^INFO \[1/\d+\] ImageExampleGen running$", done.stderr, re.M), done.stderr
    (log,) = (out / "logs").iterdir()
    assert done.stderr.splitlines()[-1] == f"bit-tfx: log (libraries included): {log}"
    text = log.read_text()
    # TensorFlow's C++ start-up lines (where this build prints them) and TFX's own lines
    assert "Component HyperRule is running." in text
    assert "Unable to register cuFFT factory" in text or "cuFFT" not in done.stderr


@pytest.mark.parametrize("data, flags, message", [
    ("images", ["--split-ratio", "0:1"], "--split-ratio"),  # found from the flags
    ("nope", [], "--data"),                                   # found from the data ...
    ("one_class", [], "classification needs at least two"),  # ... after the log file started
])
def test_a_configuration_error_writes_no_log(tmp_path, capsys, data, flags, message):
    (tmp_path / "images").mkdir()
    import images
    images.class_folders(str(tmp_path / "one_class"), ["only"], 2)
    (tmp_path / "kept").mkdir()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        codes = [cli.main(["hyperrule", "--data", str(tmp_path / data), "--output", str(tmp_path / out),
                           *flags]) for out in ("out", "kept")]
    finally:
        root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    assert codes == [common.EXIT_CONFIG] * 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith("bit-tfx: configuration error: ") for line in lines), err
    assert message in lines[0], err
    assert not (tmp_path / "out").exists()  # a new --output is not left behind ...
    assert list((tmp_path / "kept").iterdir()) == []  # ... an existing one holds no log


# ---- progress lines -------------------------------------------------------------------------


def test_every_step_gets_its_progress_line_after_a_savedmodel_export(tmp_path, caplog, monkeypatch):
    """TFX logs "Component X is running." through absl; TensorFlow's SavedModel export (the
    Transform's, the first in the DAG) set absl's verbosity to WARNING: the Trainer's,
    Evaluator's and Pusher's lines were dropped."""
    import tensorflow as tf
    from absl import logging as absl_logging
    from bit_tfx.pipeline import runner
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(runner._StepProgress, "RUNNING_AFTER_S", 0)  # every "running" line at once
    module = tf.Module()
    module.f = tf.function(lambda: tf.constant(1.0), input_signature=[])
    with runner.step_progress(2):
        absl_logging.info("Component Transform is running.")
        tf.saved_model.save(module, str(tmp_path / "saved"))
        absl_logging.info("Component Transform is finished.")
        absl_logging.info("Component Trainer is running.")
        absl_logging.info("Component Trainer is finished.")
    lines = [r.getMessage() for r in caplog.records if r.name == "bit_tfx.progress"]
    assert [line.split(" done")[0] for line in lines] == [
        "[1/2] Transform running", "[1/2] Transform", "[2/2] Trainer running", "[2/2] Trainer"], lines


def test_a_cached_or_skipped_step_is_one_line_a_long_one_says_it_is_running(caplog, monkeypatch):
    """Cached and skipped steps: one line (not "running" then "reused from cache"); a step
    still at work after RUNNING_AFTER_S says so when it starts."""
    import time
    from absl import logging as absl_logging
    from bit_tfx.pipeline import runner
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(runner._StepProgress, "RUNNING_AFTER_S", 0.05)
    with runner.step_progress(4):
        absl_logging.info("Component ImageExampleGen is running.")
        absl_logging.info("A cached execution 7 is used.")
        time.sleep(0.2)
        absl_logging.info("Component ImageExampleGen is finished.")
        absl_logging.info("Component Transform is running.")
        absl_logging.info("Skipping execution for Transform")
        time.sleep(0.2)
        absl_logging.info("Component Transform is finished.")
        absl_logging.info("Component Trainer is running.")
        time.sleep(0.3)
        absl_logging.info("Component Trainer is finished.")
        absl_logging.info("Component Pusher is running.")
        absl_logging.info("Component Pusher is finished.")
    lines = [r.getMessage() for r in caplog.records if r.name == "bit_tfx.progress"]
    assert [line.split(" done in")[0] for line in lines] == [
        "[1/4] ImageExampleGen reused from cache", "[2/4] Transform skipped", "[3/4] Trainer running",
        "[3/4] Trainer", "[4/4] Pusher"], lines


# ---- resume without noise --------------------------------------------------------------------


def test_a_resume_logs_no_unrestored_value_warnings(tmp_path, caplog):
    """The optimizer's momentum slots do not exist yet when a resumed Trainer restores; a
    run resumed at its last step (stopped after the final checkpoint, before the export)
    never makes them, and TensorFlow warned once per slot (45 for random:tiny)."""
    import tensorflow as tf
    import tf_keras as keras
    from bit_tfx.models.training import checkpoints

    def make():
        model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,)), keras.layers.Dense(2)])
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay([5], [0.1, 0.01])
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
        return model, optimizer, tf.train.Checkpoint(model=model, optimizer=optimizer)

    def step(model, optimizer):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(tf.ones([1, 4])))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))

    model, optimizer, checkpoint = make()
    step(model, optimizer)
    tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=2).save(checkpoint_number=1)
    caplog.set_level(logging.WARNING)
    for train_on in (False, True):  # resumed at the last step; resumed with steps to go
        model, optimizer, checkpoint = make()
        assert checkpoints.restore_latest(checkpoint, str(tmp_path)).endswith("ckpt-1")
        assert int(optimizer.iterations.numpy()) == 1
        if train_on:
            before = [v.numpy().copy() for v in model.trainable_variables]
            step(model, optimizer)
            slots = [v for v in optimizer.variables() if "/m/" in v.name]
            assert len(slots) == len(before)  # the momentum slots, restored as they were made
            assert all(float(tf.reduce_sum(tf.abs(v))) > 0 for v in slots)
        del model, optimizer, checkpoint
        gc.collect()
    noise = [r.getMessage() for r in caplog.records if "could not be found" in r.getMessage()
             or "unrestored values" in r.getMessage()]
    assert noise == []


# ---- a full disk ------------------------------------------------------------------------------


def _write_dev_full():
    with open("/dev/full", "w") as f:
        f.write("x")
        f.flush()


def test_a_full_disk_without_a_path_names_the_output_folder(tmp_path):
    error = raised(_write_dev_full)
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC and not error.filename
    out = tmp_path / "out"
    line = cli.disk_full_line("run", error, str(out))
    assert line.startswith(f"bit-tfx: run failed: the disk is full: no space left in {out} "), line
    assert "free space there, or pick another --output" in line

    def wrapped():  # raised from it, as a pipeline step's error is
        try:
            _write_dev_full()
        except OSError as e:
            raise RuntimeError("step failed") from e
    assert f"no space left in {out} " in cli.disk_full_line("run", raised(wrapped), str(out))


def test_tensorflow_no_space_names_the_path_in_its_message(tmp_path):
    import tensorflow as tf

    def write():
        with tf.io.gfile.GFile("/dev/full", "w") as f:
            f.write("x" * 100000)
    error = raised(write)
    assert "no space" in str(error).lower(), repr(error)
    line = cli.disk_full_line("run", error, str(tmp_path / "out"))
    assert line and "no space left in /dev " in line, (line, repr(error))


def test_sqlite_full_names_the_output_folder(tmp_path):
    def fill():
        db = sqlite3.connect(str(tmp_path / "metadata.sqlite"))
        db.execute("PRAGMA max_page_count = 2")
        db.execute("CREATE TABLE t (x)")
        for _ in range(100):
            db.execute("INSERT INTO t VALUES (?)", ("x" * 1000,))
        db.commit()
    error = raised(fill)
    assert "database or disk is full" in str(error)
    line = cli.disk_full_line("run", error, str(tmp_path))
    assert f"no space left in {tmp_path} " in line, line
    # ML Metadata quotes the query, paths included: those are not the full folder
    quoted = RuntimeError("Error when executing query: database or disk is full query: INSERT "
                          "INTO `Artifact`(`uri`) VALUES('/data/images/span-1')")
    assert f"no space left in {tmp_path} " in cli.disk_full_line("run", quoted, str(tmp_path))


def test_other_errors_are_not_a_full_disk():
    assert cli.disk_full_line("run", ValueError("bad thing"), "out") is None
    assert cli.disk_full_line("run", OSError(errno.EACCES, "Permission denied", "/x"), "out") is None


@pytest.fixture
def full_disk(tmp_path):
    """A 300 KB tmpfs: room for the configuration check, not for a run (root only)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_run_on_a_full_disk_says_so_naming_the_folder(full_disk, tmp_path):
    import runs
    runs.colour_images(str(tmp_path / "images"), 30, seed=1)
    out = full_disk / "out"
    done = subprocess.run([sys.executable, "-m", "bit_tfx.cli.main", "hyperrule", "--data",
                           str(tmp_path / "images"), "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == common.EXIT_RUN, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"bit-tfx: hyperrule failed: the disk is full: no space left in {out}"), \
        done.stderr
    assert last.endswith("free space there, or pick another --output (or --pipeline-root / "
                         "--serving-dir when the full folder is one of those)")
    assert "Traceback" not in done.stderr


def test_without_a_log_file_library_warnings_stay_on_the_console(capsys):
    """predict, report, compile, schedule write no log file: a library's warning is shown,
    its INFO chatter is not (as before)."""
    screen = console.Console(verbose=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        screen.setup()
        logging.getLogger("tensorflow").warning("a library warning")
        logging.getLogger("absl").info("a library's INFO chatter")
    finally:
        screen.stop()
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err
    assert "WARNING a library warning" in err and "chatter" not in err, err


# ---- issue 29: what the console says -------------------------------------------------------


def test_a_regression_with_no_drop_allowed_reads_as_such():
    from google.protobuf import text_format
    from tensorflow_model_analysis.proto import validation_result_pb2
    from bit_tfx.components.evaluation import gate
    result = text_format.Parse("""
        validation_ok: false
        metric_validations_per_slice { failures {
          metric_key { name: "sparse_categorical_accuracy" is_diff: true }
          metric_threshold { change_threshold { direction: HIGHER_IS_BETTER absolute { value: -1e-10 } } }
          metric_value { double_value { value: -0.0312 } } } }""", validation_result_pb2.ValidationResult())
    [sentence] = gate.failures_of(result)
    assert sentence == ("sparse_categorical_accuracy changed by -0.0312 against the model now serving, "
                        "more than allowed (no drop: --max-accuracy-drop 0)")


def test_the_hyperrule_decision_is_one_short_line():
    from bit_tfx.components.hyperrule import component
    from bit_tfx.core import rule
    decision = rule.decide(1000, 10, 32 * 32, preserve_orientation=True)
    line = component.brief(decision)
    assert len(line) < 200 and "flip off" in line and f"{decision.total_steps} steps" in line, line


@pytest.mark.parametrize("argv", [["-v", "compile", "--config", "x.yaml"], ["compile", "-v", "--config", "x.yaml"],
                                  ["run", "--data", "d", "--verbose"]])
def test_verbose_before_or_after_the_command(argv):
    from bit_tfx.cli import main
    assert main.build_parser().parse_args(argv).verbose is True
    assert main.build_parser().parse_args([a for a in argv if a not in ("-v", "--verbose")]).verbose is False


def test_compile_prints_no_tensorflow_start_up_lines(tmp_path):
    """`bit-tfx compile` writes no log file: TensorFlow's CUDA-registration lines and TFX's
    deprecation of our Pusher's wiring stayed on its real stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "bit_tfx.cli.main", "compile", "--target", "kfp", "--data", "gs://bkt-data/d",
         "--layout", "class_folders", "--image", "gcr.io/p/i:1", "--pipeline-root", "gs://bkt-root/root",
         "--serving-dir", "gs://bkt-root/serving", "--spec", str(tmp_path / "p.yaml")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stderr.splitlines()] == [
        "INFO Compiled bit-tfx for kfp", "WARNING num_classes is not set and the data cannot be listed from here"
    ], done.stderr


def test_a_metadata_store_lost_mid_run_is_named_with_the_reason():
    """ML Metadata's own words name no reason; the line says which store and why."""
    from bit_tfx.cli import main
    line = main.store_failure_line("run", RuntimeError("mysql_real_connect failed: errno: , error: "),
                                   "mysql://bit:pw@127.0.0.1:1/db")
    assert line.startswith("bit-tfx: run failed: the metadata store stopped answering during the run: "
                           "metadata store mysql://bit@127.0.0.1:1/db: no MySQL server answers"), line
    assert ":pw@" not in line and "run the same command again" in line
    assert main.store_failure_line("run", RuntimeError("other"), "mysql://bit@127.0.0.1:1/db") is None


def test_secrets_are_redacted_from_records_lines_and_files(tmp_path):
    from bit_tfx.pipeline import configs, redact
    configs.parse_mysql_url("mysql://bit:t0p%2Fsecret@h:3306/db")  # registers the password
    record = logging.LogRecord("tfx", logging.INFO, __file__, 1, "Using connection config %s",
                               ('mysql { host: "h" password: "t0p/secret" }',), None)
    assert redact.Filter().filter(record) and record.getMessage() == \
        'Using connection config mysql { host: "h" password: "***" }'
    assert redact.redact("url mysql://bit:t0p%2Fsecret@h/db, https://a:tok@x, mysql://u:PASSWORD@h") == \
        "url mysql://bit:***@h/db, https://a:***@x, mysql://u:PASSWORD@h"
    log = tmp_path / "native.log"
    log.write_text('E0000 mysql_real_connect(password="t0p/secret")\n')
    redact.scrub_file(str(log))
    assert log.read_text() == 'E0000 mysql_real_connect(password="***")\n'

"""Exit codes and messages of bad input, in this process and (for what a user sees at the
terminal) in a real `bit-tfx` subprocess: exit 2, one line naming the flag, no traceback."""
import os
import subprocess
import sys

import pytest

from bit_tfx.cli import common

OVERRIDE = '{"warmup": 2, "boundaries": [4, 6, 8], "total": 10}'


from runs import cli_in_process as _main  # noqa: E402


@pytest.fixture
def run_args(tmp_path):
    data = tmp_path / "images"
    data.mkdir()
    return ["run", "--data", str(data), "--output", str(tmp_path / "out"), "--model", "random:tiny"]


@pytest.mark.parametrize("flags, message", [
    (["--schedule-override", '{"warmup": 2, "boundaries": 5, "total": 10}'],
     "--schedule-override boundaries must be a list of integers"),
    (["--schedule-override", '{"warmup": 2, "boundaries": [4], "total": 3}'],
     "--schedule-override needs 0 <= warmup"),
    (["--split-ratio", "0:1"], "--split-ratio must be two positive integers"),
    (["--max-bad-fraction", "1.5"], "--max-bad-fraction must be in [0, 1)"),
    (["--batch-size", "100"], "--batch-size 100 cannot accumulate"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be positive"),
    (["--model", "npz:nothing"], "--model: invalid model spec 'npz:nothing'"),
    (["--pipeline-name", "My_Pipeline"], "--pipeline-name 'My_Pipeline' must match"),
])
def test_configuration_errors_exit_2_naming_the_flag_typed(run_args, flags, message, capsys):
    code, out, err = _main(run_args + flags, capsys)
    assert code == common.EXIT_CONFIG and out == "", err
    assert f"bit-tfx: configuration error: {message}" in err, err
    field = flags[0][2:].replace("-", "_")
    assert "_" not in field or field not in err, err  # the field's own name is not shown


def test_a_deploy_command_names_the_flag_and_the_config_key(tmp_path, capsys):
    code, _, err = _main(["compile", "--target", "kfp", "--spec", str(tmp_path / "p.yaml"),
                          "--split-ratio", "0:1"], capsys)
    assert code == common.EXIT_CONFIG
    assert "--split-ratio (config key split_ratio) must be two positive integers" in err, err


@pytest.mark.parametrize("command", ["run", "demo"])
def test_an_output_that_is_a_file_exits_2_before_any_work(run_args, tmp_path, command, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    argv = run_args[:-4] + ["--output", str(taken)] if command == "run" else ["demo", "--output", str(taken)]
    code, out, err = _main(argv, capsys)
    assert code == common.EXIT_CONFIG and out == ""
    assert f"--output {str(taken)!r} is a file, not a folder" in err, err
    assert taken.read_text() == "a file"
    code, _, err = _main(argv[:-1] + [str(taken / "sub")], capsys)
    assert code == common.EXIT_CONFIG
    assert f"--output {str(taken / 'sub')!r} cannot be created or written (Not a directory" in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_output_that_is_not_writable_exits_2(run_args, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = _main(run_args[:-4] + ["--output", str(locked / "out"), "--model", "random:tiny"],
                             capsys)
    finally:
        locked.chmod(0o700)
    assert code == common.EXIT_CONFIG and "cannot be created or written (Permission denied" in err, err


def test_at_the_terminal_a_bad_output_is_one_line_and_no_tensorflow_import(tmp_path):
    """The real command: exit 2, one line on stderr, nothing on stdout, and TensorFlow was
    never imported (the check comes before any work)."""
    taken = tmp_path / "taken"
    taken.write_text("a file")
    (tmp_path / "images").mkdir()
    script = ("import sys; from bit_tfx.cli import main; code = main.main(sys.argv[1:]); "
              "sys.stdout.write(str('tensorflow' in sys.modules)); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, "run", "--data", str(tmp_path / "images"),
                           "--output", str(taken), "--schedule-override", OVERRIDE],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == common.EXIT_CONFIG, done.stderr
    assert done.stdout == "False"
    assert done.stderr.strip().splitlines() == [
        f"bit-tfx: configuration error: --output {str(taken)!r} is a file, not a folder: give a "
        "folder (it is created when missing)"], done.stderr

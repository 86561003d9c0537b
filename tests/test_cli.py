"""The command line's failure line: whatever failed, the user reads a cause, never an empty one."""
import os
import re

import pytest
import tensorflow as tf

from bit_tfx.cli import common, main as cli
from runs import raised


def _empty_not_found_from(cause):
    def make():
        try:
            raise cause
        except OSError as e:
            raise tf.errors.NotFoundError(None, None, "") from e
    return make


def test_an_error_without_a_message_shows_its_cause():
    error = raised(_empty_not_found_from(FileNotFoundError(2, "No such file or directory",
                                                            "/data/a/link.jpg")))
    line = cli.failure_line("run", error)
    assert line.startswith("bit-tfx: run failed: NotFoundError")
    assert "No such file or directory" in line and "/data/a/link.jpg" in line


def _raise_empty_not_found():
    raise tf.errors.NotFoundError(None, None, "")


def test_an_error_without_message_or_cause_says_where_it_wasraised():
    line = cli.failure_line("run", raised(_raise_empty_not_found))
    assert line.startswith("bit-tfx: run failed: NotFoundError") and not line.rstrip().endswith(":")
    assert "test_cli.py" in line and "_raise_empty_not_found" in line


def test_an_error_with_a_message_is_shown_as_before():
    assert cli.failure_line("run", ValueError("bad thing")) == "bit-tfx: run failed: ValueError: bad thing"


def test_a_dangling_link_under_data_exits_2_naming_it_before_any_work(tmp_path, capsys):
    import os

    import images
    from bit_tfx.cli import common
    images.class_folders(str(tmp_path / "data"), ["a", "b"], 2)
    os.symlink(str(tmp_path / "moved.jpg"), str(tmp_path / "data" / "a" / "link.jpg"))
    code = cli.main(["hyperrule", "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == common.EXIT_CONFIG and "dangling symbolic link" in err and "a/link.jpg" in err
    assert not (tmp_path / "out" / "pipeline_root").exists()


def _help(command, capsys):
    import pytest
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_each_command_help_shows_its_own_defaults(capsys):
    demo = _help("demo", capsys)
    assert "global batch actually used (default 16)" in demo and "default scale_lr" in demo
    assert "(default linear_probe)" in demo and "(default 0)" in demo  # head start, seed
    assert "(default demo-output)" in demo
    run = _help("run", capsys)
    assert "global batch actually used (default 512)" in run and "(default bit-tfx-output)" in run
    # compile reads a --config file too, so its flags have no argparse default, but the help
    # still names the run's
    assert "global batch actually used (default 512)" in _help("compile", capsys)


def test_pretrain_offers_the_upstream_recipe_not_the_hyperrule(capsys):
    text = _help("pretrain", capsys)
    assert "accumulating gradients to 4096" in text and "(default OUTPUT/backbones)" in text
    assert "default random:R50x1" in text
    for rule_only in ("--k-shot", "--schedule-override", "--class-weighted", "--preserve-count", "keep_lr"):
        assert rule_only not in text
    import pytest
    with pytest.raises(SystemExit) as refused:  # argparse: exit 2, before any work
        cli.main(["pretrain", "--data", "x", "--k-shot", "5"])
    assert refused.value.code == 2 and "--k-shot" in capsys.readouterr().err


def test_a_beam_arg_parses_alike_in_both_forms_for_every_command_that_takes_one():
    """`--beam-arg=--runner=X` and `--beam-arg --runner=X` (argparse alone refuses the second:
    a value that starts with "--" reads as an option). Parsing only; nothing runs."""
    import argparse
    parser = cli.build_parser()
    [commands] = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    takes = {name: p for name, p in commands.items()
             if any("--beam-arg" in a.option_strings for a in p._actions)}
    assert {"run", "demo", "pretrain", "hyperrule", "compile", "schedule"} <= set(takes)
    # --project and --region are flags of compile and schedule too: here they are Beam's.
    beam = ["--runner=DataflowRunner", "--project=p", "--region", "-x", "plain"]
    for name, sub in takes.items():
        required = [x for a in sub._actions if a.required and a.option_strings
                    for x in (a.option_strings[0], "x")]
        equals = parser.parse_args([name, *required] + [f"--beam-arg={b}" for b in beam])
        space = parser.parse_args([name, *required] + [x for b in beam for x in ("--beam-arg", b)])
        assert equals.beam_args == beam and vars(space) == vars(equals), name
    # What follows `--` is left alone.
    assert common.join_dash_values(["run", "--beam-arg", "--a", "--", "--beam-arg", "--b"]) == \
        ["run", "--beam-arg=--a", "--", "--beam-arg", "--b"]


def test_version_is_setup_pys_and_the_run_json_says_it(capsys):
    """`bit-tfx --version` prints the version setup.py declares (read back from the installed
    distribution, so a stale install shows). The run's JSON, the model card and the report
    state the same (test_report.py, on a real run)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "setup.py"), encoding="utf-8") as f:
        declared = re.search(r'\bversion="([^"]+)"', f.read()).group(1)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"bit-tfx {declared}"
    from bit_tfx.core.version import version
    assert version() == declared


def test_predict_s_files_per_call_was_batch_size_and_the_old_spelling_still_works(capsys):
    """`predict --batch-size` meant files per call, not the training batch every other command
    means: it is `--files-per-call` now; the old spelling sets the same value, warns with the
    new name and is not offered in --help. Parsing only."""
    parser = cli.build_parser()
    new = parser.parse_args(["predict", "--model", "m", "x.png", "--files-per-call", "4"])
    old = parser.parse_args(["predict", "--model", "m", "x.png", "--batch-size", "4"])
    assert new.files_per_call == old.files_per_call == 4 and vars(new) == vars(old)
    assert "--batch-size is now --files-per-call" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["predict", "--model", "m", "x.png", "--batch-size", "0"])  # same check
    with pytest.raises(SystemExit):
        parser.parse_args(["predict", "--help"])
    shown = capsys.readouterr().out
    assert "--files-per-call N" in shown and "--batch-size" not in shown

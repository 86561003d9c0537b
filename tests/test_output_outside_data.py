"""--output (and --pipeline-root, --serving-dir) outside --data: refused before anything is
written, since a run's folders inside the data would be read as a class by every later run."""
import os

import pytest

import images
from bit_tfx.cli import common, main as cli
from bit_tfx.core.errors import ConfigError
from bit_tfx.pipeline import configs


def _data(tmp_path):
    root = str(tmp_path / "data")
    images.class_folders(root, ["a", "b"], 2)
    return root


def _listing(root):
    return sorted(os.path.relpath(os.path.join(d, n), root)
                  for d, dirs, files in os.walk(root) for n in dirs + files)


@pytest.mark.parametrize("inside", ["", "out", "a/out", "out/deeper", "./out/../out2"])
def test_output_in_data_is_refused_and_nothing_is_created(tmp_path, inside):
    data = _data(tmp_path)
    before = _listing(data)
    output = os.path.join(data, inside) if inside else data
    with pytest.raises(ConfigError, match="--data") as raised:
        configs.RunConfig(data=data, output=output).validate().check_local_folders()
    assert raised.value.field == "output"
    assert ("is inside --data" if inside else "is --data") in str(raised.value)
    assert _listing(data) == before  # no folder, no metadata.sqlite, no pipeline_root/


@pytest.mark.parametrize("field", ["pipeline_root_override", "serving_dir"])
def test_pipeline_root_and_serving_dir_in_data_are_refused(tmp_path, field):
    data = _data(tmp_path)
    before = _listing(data)
    config = configs.RunConfig(data=data, output=str(tmp_path / "out"),
                               **{field: os.path.join(data, "x")})
    with pytest.raises(ConfigError) as raised:
        config.check_local_folders()
    assert raised.value.field == field and not (tmp_path / "out").exists()
    assert _listing(data) == before


def test_a_symbolic_link_to_the_data_is_the_data(tmp_path):
    data = _data(tmp_path)
    os.symlink(data, str(tmp_path / "link"))
    with pytest.raises(ConfigError, match="is inside --data"):
        configs.RunConfig(data=str(tmp_path / "link"), output=os.path.join(data, "o")).check_local_folders()


def test_span_data_refuses_output_in_a_span_and_allows_it_beside_the_spans(tmp_path):
    data = str(tmp_path / "root" / "span-{SPAN}")
    with pytest.raises(ConfigError, match="is inside --data"):
        configs.RunConfig(data=data, output=str(tmp_path / "root" / "span-3" / "out")).check_local_folders()
    beside = str(tmp_path / "root" / "runs")
    configs.RunConfig(data=data, output=beside).check_local_folders()
    assert os.path.isdir(beside)


@pytest.mark.parametrize("output", ["data-out", "dat", "elsewhere/data"])
def test_outputs_beside_the_data_are_fine(tmp_path, output):
    data = _data(tmp_path)
    configs.RunConfig(data=data, output=str(tmp_path / output)).check_local_folders()
    assert os.path.isdir(tmp_path / output)


def test_the_demo_keeps_its_data_under_its_output(tmp_path):
    output = str(tmp_path / "demo-output")
    config = configs.RunConfig(data=os.path.join(output, configs.DEMO_DATA_DIR), output=output)
    config.check_local_folders()
    assert os.path.isdir(output)


def test_cli_exits_2_naming_the_flags_and_writes_nothing_in_the_data(tmp_path, capsys):
    data = _data(tmp_path)
    before = _listing(data)
    code = cli.main(["hyperrule", "--data", data, "--output", os.path.join(data, "runs")])
    err = capsys.readouterr().err.strip()
    assert code == common.EXIT_CONFIG
    assert err.startswith("bit-tfx: configuration error: --output ") and "is inside --data" in err
    assert len(err.splitlines()) == 1
    assert _listing(data) == before

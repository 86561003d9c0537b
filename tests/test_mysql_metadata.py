"""The pipeline on a shared MySQL ML Metadata store (`--metadata mysql://...`): a real run of
`bit-tfx hyperrule` against a MariaDB server this test starts on loopback (tests/mysql_server.py),
then the lineage read back from that server through pipeline/metadata.py, as the run summary,
the report and `bit-tfx report` read it."""
import json
import os
import stat

import pytest

import mysql_server
import runs
from bit_tfx.core import keys
from bit_tfx.core.errors import ConfigError
from bit_tfx.core.decision import read_decision
from bit_tfx.pipeline import configs, metadata, results

pytestmark = pytest.mark.pipeline


def _preflight_says_why(url, tmp_path, capsys, data, monkeypatch):
    """Before any step, each way the store cannot be used is named, with the configuration's
    exit code; the password may come from the environment or a file instead of the URL."""
    good = configs.parse_mysql_url(url)
    bare = good.url()
    code, _, err = runs.cli_in_process(["hyperrule", "--data", data, "--output", str(tmp_path / "bad"),
                                        "--metadata", url.replace(mysql_server.PASSWORD, "wrong-pw")], capsys)
    assert code == 2 and "refused user 'bit'" in err and "password is wrong" in err, err[-2000:]
    assert not (tmp_path / "bad" / "pipeline_root").exists()
    with pytest.raises(ConfigError, match="database 'nope' .* it does not exist, or the user has no grant"):
        metadata.preflight(url.replace("/bit_mlmd", "/nope"))
    with pytest.raises(ConfigError, match="no MySQL server answers at 127.0.0.1:1 "):
        metadata.preflight(bare.replace(f":{good.port}/", ":1/"))
    with pytest.raises(ConfigError, match="refused user"):
        metadata.preflight(bare)  # no password anywhere
    monkeypatch.setenv(configs.METADATA_PASSWORD_ENV, mysql_server.PASSWORD)
    metadata.preflight(bare)
    monkeypatch.delenv(configs.METADATA_PASSWORD_ENV)
    secret = tmp_path / "password"
    secret.write_text(mysql_server.PASSWORD + "\n")
    monkeypatch.setenv(configs.METADATA_PASSWORD_FILE_ENV, str(secret))
    metadata.preflight(bare)
    monkeypatch.delenv(configs.METADATA_PASSWORD_FILE_ENV)
    secret.unlink()


def test_a_run_writes_its_lineage_to_mysql_and_every_reader_opens_it(tmp_path, capsys, monkeypatch):
    root = tmp_path / "mysql"
    root.mkdir()
    with mysql_server.server(str(root)) as url:
        runs.colour_images(str(tmp_path / "images" / "span-3"), per_class=8, seed=5)
        output = tmp_path / "out"
        data = str(tmp_path / "images" / "span-{SPAN}")
        _preflight_says_why(url, tmp_path, capsys, data, monkeypatch)
        code, out, err = runs.cli_in_process(
            ["hyperrule", "--data", data, "--output", str(output), "--metadata", url], capsys)
        assert code == 0, err[-3000:]
        printed = json.loads(out)
        assert mysql_server.PASSWORD not in err  # logs name the store without its password
        # Nothing the run wrote holds the password (logs, MLMD-recorded configs, artifacts),
        # and its log is private.
        leaked = [str(p) for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(root)
                  and mysql_server.PASSWORD.encode() in p.read_bytes()]
        assert leaked == []
        [log] = (output / "logs").iterdir()
        assert stat.S_IMODE(log.stat().st_mode) == 0o600 and "***" in log.read_text()

        # Nothing in SQLite: the store is the server's, recorded (no password) for the readers.
        assert not (output / "metadata.sqlite").exists()
        record = json.loads((output / keys.METADATA_STORE_RECORD).read_text())
        assert record == {"metadata_store": metadata.without_password(url), "password": True}
        assert mysql_server.PASSWORD not in (output / keys.METADATA_STORE_RECORD).read_text()

        # The lineage, read back from MySQL: the HyperRule decision and the span it was made on.
        store = metadata.open_store(url)
        execution, hyperparameters = results.decision_output(store, "bit-tfx")
        assert hyperparameters is not None and not metadata.was_cached(execution)
        assert read_decision(hyperparameters.uri).to_json() == printed
        _, examples = metadata.latest_output(store, "bit-tfx", keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY)
        assert examples.custom_properties["span"].int_value == 3
        _, schema = metadata.latest_output(store, "bit-tfx", keys.NODE_SCHEMA, keys.SCHEMA_KEY)
        assert schema.uri.startswith(str(output))

        # `bit-tfx report OUTPUT` finds that store; its password must be given again.
        with pytest.raises(ConfigError, match="--metadata mysql://bit:PASSWORD@127.0.0.1"):
            metadata.run_store_uri(str(output))
        assert metadata.run_store_uri(str(output), url) == url


@pytest.mark.slow
def test_a_whole_run_on_mysql_is_summarized_and_reported_from_it(tmp_path, capsys):
    """The SMOKE run (train, gate, push) on MySQL: the run summary and the report are read from
    the server (no metadata.sqlite exists), and `bit-tfx report OUTPUT --metadata URL` writes the
    report again from it."""
    from bit_tfx.pipeline import configs, runner
    root = tmp_path / "mysql"
    root.mkdir()
    with mysql_server.server(str(root)) as url:
        runs.colour_images(str(tmp_path / "images"), per_class=10, seed=1)
        # The SMOKE settings, gated at 0 (what is read back matters here, not the accuracy).
        settings = dict({k: v for k, v in runs.SMOKE.items() if k != "through"}, min_accuracy=0.0)
        config = configs.RunConfig(data=str(tmp_path / "images"), output=str(tmp_path / "out"),
                                   metadata_store=url, **settings).validate()
        summary = runner.run_all(config)
        assert summary.blessed and summary.pushed_to, summary
        assert summary.report and os.path.isfile(summary.report), summary
        assert not (tmp_path / "out" / "metadata.sqlite").exists()
        os.remove(summary.report)
        code, out, err = runs.cli_in_process(["report", str(tmp_path / "out"), "--metadata", url,
                                              "--max-examples", "8"], capsys)
        assert code == 0, err[-3000:]
        assert os.path.isfile(json.loads(out)["report"])
        code, _, err = runs.cli_in_process(["report", str(tmp_path / "out")], capsys)
        assert code == 2 and "give --metadata mysql://bit:PASSWORD@127.0.0.1" in err, err
        # Trained, gated, pushed, reported: no file of it (the model card, the report, the
        # pushed version, MLMD-recorded configs) holds the password.
        leaked = [str(p) for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(root)
                  and mysql_server.PASSWORD.encode() in p.read_bytes()]
        assert leaked == []

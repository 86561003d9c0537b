"""The pipeline on a shared MySQL ML Metadata store (`--metadata mysql://...`): a real run of
`bit-tfx hyperrule` against a MariaDB server this test starts on loopback (tests/mysql_server.py),
then the lineage read back from that server through pipeline/metadata.py, as the run summary,
the report and `bit-tfx report` read it."""
import json
import os

import pytest

import mysql_server
import runs
from bit_tfx.components import keys
from bit_tfx.components.errors import ConfigError
from bit_tfx.components.hyperrule.component import read_decision
from bit_tfx.pipeline import metadata, results

pytestmark = pytest.mark.pipeline


def test_a_run_writes_its_lineage_to_mysql_and_every_reader_opens_it(tmp_path, capsys):
    root = tmp_path / "mysql"
    root.mkdir()
    with mysql_server.server(str(root)) as url:
        runs.colour_images(str(tmp_path / "images" / "span-3"), per_class=8, seed=5)
        output = tmp_path / "out"
        code, out, err = runs.cli_in_process(
            ["hyperrule", "--data", str(tmp_path / "images" / "span-{SPAN}"), "--output", str(output),
             "--metadata", url], capsys)
        assert code == 0, err[-3000:]
        printed = json.loads(out)
        assert mysql_server.PASSWORD not in err  # logs name the store without its password

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
        assert summary["blessed"] and summary["pushed_to"], summary
        assert summary["report"] and os.path.isfile(summary["report"]), summary
        assert not (tmp_path / "out" / "metadata.sqlite").exists()
        os.remove(summary["report"])
        code, out, err = runs.cli_in_process(["report", str(tmp_path / "out"), "--metadata", url,
                                              "--max-examples", "8"], capsys)
        assert code == 0, err[-3000:]
        assert os.path.isfile(json.loads(out)["report"])
        code, _, err = runs.cli_in_process(["report", str(tmp_path / "out")], capsys)
        assert code == 2 and "give --metadata mysql://bit:PASSWORD@127.0.0.1" in err, err

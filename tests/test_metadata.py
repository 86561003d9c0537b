"""Reading a run back from a real SQLite ML Metadata store: which decision node's output the
run summary and the report use when one pipeline name has run both the HyperRule and (later)
the UpstreamRecipe."""
import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2 as pb

from bit_tfx.core import keys
from bit_tfx.pipeline import metadata, results


def _store(path):
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return mlmd.MetadataStore(config)


def _record(store, pipeline, node, uri, run_id=None, state=pb.Execution.COMPLETE):
    """One execution of `node` (COMPLETE: with a HyperParameters output at `uri`) in the
    pipeline_run context `run_id`, as TFX records it."""
    node_type = store.put_context_type(pb.ContextType(name="node"))
    exec_type = store.put_execution_type(pb.ExecutionType(name=node))
    art_type = store.put_artifact_type(pb.ArtifactType(name="HyperParameters"))
    context = store.get_context_by_type_and_name("node", f"{pipeline}.{node}")
    if context is None:
        [context_id] = store.put_contexts([pb.Context(type_id=node_type, name=f"{pipeline}.{node}")])
        [context] = store.get_contexts_by_id([context_id])
    contexts = [context]
    if run_id is not None:
        run_type = store.put_context_type(pb.ContextType(name=metadata.PIPELINE_RUN_CONTEXT))
        run = store.get_context_by_type_and_name(metadata.PIPELINE_RUN_CONTEXT, run_id)
        if run is None:
            [run_context_id] = store.put_contexts([pb.Context(type_id=run_type, name=run_id)])
            [run] = store.get_contexts_by_id([run_context_id])
        contexts.append(run)
    execution = pb.Execution(type_id=exec_type, last_known_state=state)
    outputs = []
    if state == pb.Execution.COMPLETE:
        event = pb.Event(type=pb.Event.OUTPUT)
        event.path.steps.add().key = keys.HYPERPARAMETERS_KEY
        event.path.steps.add().index = 0
        outputs.append((pb.Artifact(type_id=art_type, uri=uri), event))
    store.put_execution(execution, outputs, contexts)


def test_the_decision_is_the_newest_decision_nodes_output(tmp_path):
    store = _store(tmp_path / "metadata.sqlite")

    def newest():
        return {n: metadata.latest_execution(store, "p", n) for n in keys.DECISION_NODES}

    assert results.decision_output(store, "p") == (None, None)
    assert metadata.decision_node(newest()) is None
    for node, uri in [(keys.NODE_HYPERRULE, "/runs/hyperrule/1"),
                      (keys.NODE_UPSTREAM_RECIPE, "/runs/upstream/2"),
                      (keys.NODE_HYPERRULE, "/runs/hyperrule/3")]:
        _record(store, "p", node, uri)
        _, artifact = results.decision_output(store, "p")
        assert artifact.uri == uri
        # the report asks the same question of its run's executions, with the same answer
        assert metadata.decision_node(newest()) == node
    assert results.decision_output(store, "another pipeline") == (None, None)


def test_a_run_reads_its_own_decision_while_another_run_is_at_the_same_step(tmp_path):
    """Two runs at once on one store (the CI failure of stop 25): run B's HyperRule has started
    (RUNNING, no output yet) when run A, finished, reads its decision back. The newest
    execution is B's; A's own run id finds A's."""
    store = _store(tmp_path / "metadata.sqlite")
    _record(store, "p", keys.NODE_HYPERRULE, "/runs/hyperrule/7", run_id="A")
    _record(store, "p", keys.NODE_HYPERRULE, None, run_id="B", state=pb.Execution.RUNNING)
    assert results.decision_output(store, "p")[1] is None  # the newest: B's, with nothing yet
    execution, artifact = results.decision_output(store, "p", run_id="A")
    assert artifact.uri == "/runs/hyperrule/7" and execution.last_known_state == pb.Execution.COMPLETE
    assert results.decision_output(store, "p", run_id="C") == (None, None)


# ---------------------------------------------------------------- which store a run uses
import json  # noqa: E402

import pytest  # noqa: E402

import runs  # noqa: E402
from bit_tfx.core.errors import ConfigError  # noqa: E402
from bit_tfx.pipeline import configs  # noqa: E402


def test_mysql_urls_parse_and_bad_ones_are_config_errors_without_the_password():
    parsed = configs.parse_mysql_url("mysql://bit:p%40ss@db.internal:3307/ml_md")
    assert parsed == configs.MySQLStore(host="db.internal", port=3307, database="ml_md", user="bit",
                                        password="p@ss")
    assert "p@ss" not in repr(parsed) and parsed.url() == "mysql://bit@db.internal:3307/ml_md"
    assert configs.parse_mysql_url("mysql://root@127.0.0.1/mlmd").port == 3306
    for url, problem in (("postgres://u@h/db", "scheme"), ("mysql://h:3306/db", "no user"),
                         ("mysql://u:secret@h:3306/", "no database"), ("mysql://u@h:99999/db", "port"),
                         ("mysql://u:secret@h/db/x", "no database")):
        with pytest.raises(ConfigError, match=problem) as e:
            configs.RunConfig(data="d", metadata_store=url).validate()
        assert e.value.field == "metadata_store" and "secret" not in str(e.value)
        assert "mysql://user[:password]@host[:port]/database" in str(e.value)


def test_the_connection_config_is_sqlite_by_default_and_mysql_with_a_url(tmp_path):
    config = configs.RunConfig(data="d", output=str(tmp_path)).validate()
    assert config.metadata_uri == str(tmp_path / "metadata.sqlite")
    assert metadata.connection_config(config.metadata_uri).sqlite.filename_uri == config.metadata_uri
    config = configs.RunConfig(data="d", output=str(tmp_path), metadata_store="mysql://bit:pw@10.0.0.5:3310/mlmd")
    mysql = metadata.connection_config(config.validate().metadata_uri).mysql
    assert (mysql.host, mysql.port, mysql.database, mysql.user, mysql.password) == (
        "10.0.0.5", 3310, "mlmd", "bit", "pw")
    assert metadata.shown(config.metadata_uri) == "mysql://bit@10.0.0.5:3310/mlmd"


def test_the_store_a_run_wrote_is_recorded_for_the_readers_of_its_folder(tmp_path):
    """A MySQL run leaves OUTPUT/metadata_store.json (no password); `bit-tfx report OUTPUT`
    opens that store (asking for the password when it had one); a later SQLite run in the
    same folder removes the record, so the folder's metadata.sqlite is read again."""
    config = configs.RunConfig(data="d", output=str(tmp_path), metadata_store="mysql://bit@db:3306/mlmd")
    metadata.record_store(config)
    assert metadata.run_store_uri(str(tmp_path)) == "mysql://bit@db:3306/mlmd"
    metadata.record_store(configs.RunConfig(data="d", output=str(tmp_path),
                                            metadata_store="mysql://bit:pw@db:3306/mlmd"))
    assert "pw" not in (tmp_path / keys.METADATA_STORE_RECORD).read_text()
    with pytest.raises(ConfigError, match="give --metadata mysql://bit:PASSWORD@db:3306/mlmd"):
        metadata.run_store_uri(str(tmp_path))
    assert metadata.run_store_uri(str(tmp_path), "mysql://bit:pw@db:3306/mlmd").endswith("@db:3306/mlmd")
    metadata.record_store(configs.RunConfig(data="d", output=str(tmp_path)))
    assert not (tmp_path / keys.METADATA_STORE_RECORD).exists()
    assert metadata.run_store_uri(str(tmp_path)) == str(tmp_path / "metadata.sqlite")


def test_report_with_a_mysql_run_asks_for_the_password(tmp_path, capsys):
    (tmp_path / keys.METADATA_STORE_RECORD).write_text(
        json.dumps({"metadata_store": "mysql://bit@db:3306/mlmd", "password": True}))
    code, _, err = runs.cli_in_process(["report", str(tmp_path)], capsys)
    assert code == 2 and "--metadata mysql://bit:PASSWORD@db:3306/mlmd" in err, err


@pytest.mark.parametrize("command", ["run", "demo", "pretrain", "hyperrule"])
def test_no_cache_and_metadata_flags_reach_the_pipeline(tmp_path, command, monkeypatch):
    """--no-cache: the pipeline's enable_cache is False (every step runs again); --metadata:
    the pipeline's connection config is that MySQL store; for each command that runs one.
    (Built, not run: the store's preflight, which a real server answers in
    tests/test_mysql_metadata.py, is left out here: no server is named "db".)"""
    from bit_tfx.cli import common, main as cli
    from bit_tfx.pipeline import metadata, pipeline
    monkeypatch.setattr(metadata, "preflight", lambda uri: None)
    runs.colour_images(str(tmp_path / "images"), per_class=2, seed=1)
    argv = [command, "--data", str(tmp_path / "images"), "--output", str(tmp_path / "out")]
    argv += ["--model", "random:tiny"] if command != "hyperrule" else []
    args = cli.build_parser().parse_args(argv)
    assert common.run_config(args).enable_cache is True
    args = cli.build_parser().parse_args(argv + ["--no-cache", "--metadata", "mysql://bit:pw@db:3306/m"])
    config = common.run_config(args)
    built = pipeline.build(config, pipeline.THROUGH_HYPERRULE)
    assert built.enable_cache is False
    assert built.metadata_connection_config.mysql.host == "db"

"""Reading a run back from a real SQLite ML Metadata store: which decision node's output the
run summary and the report use when one pipeline name has run both the HyperRule and (later)
the UpstreamRecipe."""
import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2 as pb

from bit_tfx.components import keys
from bit_tfx.pipeline import metadata, results


def _store(path):
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return mlmd.MetadataStore(config)


def _record(store, pipeline, node, uri):
    """One COMPLETE execution of `node` with a HyperParameters output, as TFX records it."""
    node_type = store.put_context_type(pb.ContextType(name="node"))
    exec_type = store.put_execution_type(pb.ExecutionType(name=node))
    art_type = store.put_artifact_type(pb.ArtifactType(name="HyperParameters"))
    context = store.get_context_by_type_and_name("node", f"{pipeline}.{node}")
    if context is None:
        [context_id] = store.put_contexts([pb.Context(type_id=node_type, name=f"{pipeline}.{node}")])
        [context] = store.get_contexts_by_id([context_id])
    execution = pb.Execution(type_id=exec_type, last_known_state=pb.Execution.COMPLETE)
    artifact = pb.Artifact(type_id=art_type, uri=uri)
    event = pb.Event(type=pb.Event.OUTPUT)
    event.path.steps.add().key = keys.HYPERPARAMETERS_KEY
    event.path.steps.add().index = 0
    store.put_execution(execution, [(artifact, event)], [context])


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

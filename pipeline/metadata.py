"""Reading what a run did from the ML Metadata store (SQLite locally)."""
import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata as tfx_metadata

from bit_tfx.components import keys


def connection_config(sqlite_path):
    return tfx_metadata.sqlite_metadata_connection_config(sqlite_path)


def open_store(sqlite_path):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(config)


def latest_execution(store, pipeline_name, node_id):
    """The newest execution of a node (a cached run counts: TFX records it as CACHED)."""
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if context is None:
        return None
    executions = store.get_executions_by_context(context.id)
    return max(executions, key=lambda e: e.id) if executions else None


def decision_node(executions):
    """Which decision node (keys.DECISION_NODES: the HyperRule, or the UpstreamRecipe of a
    pre-training pipeline) ran newest among {node id: execution or None}; None if neither ran.
    The run summary and the report both ask this."""
    ran = [(executions[n].id, n) for n in keys.DECISION_NODES if executions.get(n) is not None]
    return max(ran)[1] if ran else None


def was_cached(execution):
    return execution.last_known_state == metadata_store_pb2.Execution.CACHED


def latest_output(store, pipeline_name, node_id, key):
    """(newest execution of the node, its first output under `key`), or (None, None)."""
    execution = latest_execution(store, pipeline_name, node_id)
    return (execution, first_output(store, execution, key)) if execution is not None else (None, None)


def first_output(store, execution, key):
    """The execution's first output artifact under `key`, or None."""
    artifacts = output_artifacts(store, execution, key)
    return artifacts[0] if artifacts else None


def output_artifacts(store, execution, key):
    """Artifacts an execution output under `key` (reused ones included for CACHED)."""
    events = store.get_events_by_execution_ids([execution.id])
    ids = [e.artifact_id for e in events
           if e.type == metadata_store_pb2.Event.OUTPUT
           and any(step.key == key for step in e.path.steps)]
    return store.get_artifacts_by_id(ids)

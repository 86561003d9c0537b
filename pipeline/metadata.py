"""The ML Metadata store of a run (SQLite in the output folder, or a shared MySQL named by
RunConfig.metadata_store): its connection config, opening it, and reading what a run did.

A store is named by one string, RunConfig.metadata_uri: a SQLite file's path or a
mysql://user[:password]@host[:port]/db URL. A run on MySQL leaves OUTPUT/metadata_store.json
(the URL without its password) so that `bit-tfx report OUTPUT` opens the store the run wrote."""
import json
import os

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata as tfx_metadata

from ..core import keys
from ..core.errors import ConfigError
from . import configs


PIPELINE_RUN_CONTEXT = "pipeline_run"  # TFX's context type of one run, named by its run id


def is_mysql(uri):
    return str(uri).startswith(configs.MYSQL_SCHEME + "://")


def connection_config(uri):
    """The ConnectionConfig a pipeline writes to: SQLite at a path, or MySQL at a URL."""
    if is_mysql(uri):
        m = configs.parse_mysql_url(uri)
        return tfx_metadata.mysql_metadata_connection_config(
            host=m.host, port=m.port, database=m.database, username=m.user, password=m.password)
    return tfx_metadata.sqlite_metadata_connection_config(uri)


# PyMySQL's error codes (client 2xxx, server 1xxx) that preflight explains.
_CANNOT_CONNECT, _UNKNOWN_HOST, _LOST = 2003, 2005, 2013
_ACCESS_DENIED, _DB_ACCESS_DENIED, _UNKNOWN_DATABASE = 1045, 1044, 1049
PREFLIGHT_TIMEOUT_S = 10


def preflight(uri, timeout=PREFLIGHT_TIMEOUT_S):
    """A MySQL store checked before any step: the server reachable, the user let in with the
    password, the database there. ConfigError (the configuration's exit code) naming which and
    what to do; ML Metadata's own error names none ("mysql_real_connect failed: errno: ,
    error:") and comes after the first steps' work. SQLite: nothing to check here."""
    if not is_mysql(uri):
        return
    import pymysql  # pylint: disable=import-outside-toplevel  (PyMySQL: pure Python, in the lock)
    m = configs.parse_mysql_url(uri)
    where = f"{m.host}:{m.port}"
    try:
        pymysql.connect(host=m.host, port=m.port, user=m.user, password=m.password,
                        database=m.database, connect_timeout=timeout, read_timeout=timeout).close()
    except pymysql.err.MySQLError as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else None
        reason = str(e.args[1] if len(e.args) > 1 else e)
        if code in (_CANNOT_CONNECT, _UNKNOWN_HOST, _LOST):
            why = (f"no MySQL server answers at {where} ({reason}): start it, or check the host "
                   "and port in --metadata (and that a firewall lets this machine through)")
        elif code == _ACCESS_DENIED:
            why = (f"the MySQL server at {where} refused user {m.user!r} ({reason}): the "
                   f"password is wrong or missing (give it in the URL, {configs.METADATA_PASSWORD_ENV}"
                   f" or {configs.METADATA_PASSWORD_FILE_ENV}), or the user may not connect from here")
        elif code == _UNKNOWN_DATABASE:
            why = (f"the database {m.database!r} does not exist on the MySQL server at {where}: "
                   f"create it (CREATE DATABASE {m.database};) or name another in --metadata")
        elif code == _DB_ACCESS_DENIED:
            why = (f"the database {m.database!r} at {where} is not open to user {m.user!r} "
                   f"({reason}): it does not exist, or the user has no grant on it: CREATE DATABASE "
                   f"{m.database}; GRANT ALL ON {m.database}.* TO the user, or name another")
        else:
            why = f"the MySQL server at {where} cannot be used ({type(e).__name__}: {reason})"
        raise ConfigError(f"metadata store {shown(uri)}: {why}", field="metadata_store") from None


def open_store(uri):
    """The store a run wrote, for reading: SQLite read-only, or the MySQL database (checked
    first: preflight)."""
    if is_mysql(uri):
        preflight(uri)
        return mlmd.MetadataStore(connection_config(uri))
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = uri
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(config)


def without_password(url):
    return configs.parse_mysql_url(url).url()


def shown(uri):
    """A store's name for messages and logs: a MySQL URL without its password."""
    return without_password(uri) if is_mysql(uri) else uri


def record_store(config):
    """OUTPUT/metadata_store.json names the MySQL store of the runs in OUTPUT (no password);
    a run on the embedded SQLite removes it, so readers of the folder find that one."""
    record = os.path.join(os.path.abspath(config.output), keys.METADATA_STORE_RECORD)
    if not config.metadata_store:
        if os.path.exists(record):
            os.remove(record)
        return
    password = bool(configs.parse_mysql_url(config.metadata_store).password)
    os.makedirs(os.path.dirname(record), exist_ok=True)  # the pipeline root may be elsewhere
    with open(record, "w", encoding="utf-8") as f:
        json.dump({"metadata_store": without_password(config.metadata_store), "password": password}, f)


def run_store_uri(output, given=None):
    """The store of the runs in the folder `output`: `given` (a mysql:// URL), else the MySQL
    store its runs recorded (metadata_store.json), else OUTPUT/metadata.sqlite."""
    if given:
        return configs.parse_mysql_url(given) and given
    record = os.path.join(os.path.abspath(output), keys.METADATA_STORE_RECORD)
    if not os.path.isfile(record):
        return configs.RunConfig(data="", output=output).metadata_path
    with open(record, encoding="utf-8") as f:
        recorded = json.load(f)
    url = recorded["metadata_store"]
    if recorded.get("password") and not configs.metadata_password_from_environment():
        raise ConfigError(f"the runs in {output} wrote their metadata to MySQL {url} ({record}), "
                          f"which needs a password: set {configs.METADATA_PASSWORD_ENV} (or "
                          f"{configs.METADATA_PASSWORD_FILE_ENV}), or give --metadata "
                          f"{configs.parse_mysql_url(url).url(password='PASSWORD')}",
                          field="metadata_store")
    return url


def latest_execution(store, pipeline_name, node_id, run_id=None):
    """The newest execution of a node (a cached run counts: TFX records it as CACHED); with
    `run_id` (runner.run_local's answer), the newest of that run's own, so that a run started at
    the same time on the same store is never read as this one."""
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if context is None:
        return None
    executions = store.get_executions_by_context(context.id)
    if run_id is not None:
        run = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
        in_run = {e.id for e in store.get_executions_by_context(run.id)} if run is not None else set()
        executions = [e for e in executions if e.id in in_run]
    return max(executions, key=lambda e: e.id) if executions else None


def decision_node(executions):
    """Which decision node (keys.DECISION_NODES: the HyperRule, or the UpstreamRecipe of a
    pre-training pipeline) ran newest among {node id: execution or None}; None if neither ran.
    The run summary and the report both ask this."""
    ran = [(executions[n].id, n) for n in keys.DECISION_NODES if executions.get(n) is not None]
    return max(ran)[1] if ran else None


def was_cached(execution):
    return execution.last_known_state == metadata_store_pb2.Execution.CACHED


def latest_output(store, pipeline_name, node_id, key, run_id=None):
    """(newest execution of the node, its first output under `key`), or (None, None)."""
    execution = latest_execution(store, pipeline_name, node_id, run_id)
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

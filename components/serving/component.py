"""ServingBaseline: the model now serving (and the schema of its training data), found where
the Pusher pushes, for the Evaluator's no-regression gate and the span-drift check.

A regular component, no Resolver: every orchestrator runs it (the open-source KFP v2 backend
runs no resolver task). "What is serving" is right after a manual rollback or a failed push,
which a metadata query for the last blessed model is not. See executor.py for the outputs.

Its input is this run's Examples: it runs once per ingested span, early (the drift check needs
its schema before training), and a new span is always a cache miss for it, as for every step
after ExampleGen. Locally its driver adds the version serving now to its execution properties:
a run on the same data is a cache hit for it only while the same version serves.

It also says whether this run trains (`train` on its model output, which the DAG's
tfx.dsl.Cond reads): not when this run's Examples are the data the serving version was
trained on (assets.extra/training_data.json), unless `force`.
"""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from ...core import keys
from . import executor


class ServingBaselineSpec(ComponentSpec):
    PARAMETERS = {
        executor.SERVING_DIRECTORY_KEY: ExecutionParameter(type=str, optional=True),
        executor.VERTEX_PROJECT_KEY: ExecutionParameter(type=str, optional=True),
        executor.VERTEX_REGION_KEY: ExecutionParameter(type=str, optional=True),
        executor.VERTEX_ENDPOINT_KEY: ExecutionParameter(type=str, optional=True),
        executor.FORCE_KEY: ExecutionParameter(type=int, optional=True),
        executor.INPUT_BASE_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {keys.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
               keys.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema)}


class ServingBaseline(base_component.BaseComponent):
    """The served model and its training schema (empty, and saying why, when nothing serves)."""

    SPEC_CLASS = ServingBaselineSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
    DRIVER_CLASS = executor.ServingDriver

    def __init__(self, examples, serving_directory=None, vertex_project=None, vertex_region=None,
                 vertex_endpoint=None, force=False, input_base=None):
        """Give serving_directory (the filesystem Pusher's base directory), or the Vertex AI
        Endpoint the Pusher deploys to (project, region, endpoint display name). `force`:
        train even on the data the serving version was trained on; `input_base`: the data's
        folder, recorded with the comparison."""
        if bool(serving_directory) == bool(vertex_endpoint):
            raise ValueError("ServingBaseline looks in one place: give serving_directory or "
                             "vertex_endpoint (with vertex_project and vertex_region)")
        if vertex_endpoint and not (vertex_project and vertex_region):
            raise ValueError(f"vertex_endpoint {vertex_endpoint!r} needs vertex_project and vertex_region")
        super().__init__(spec=ServingBaselineSpec(
            examples=examples, serving_directory=serving_directory,
            vertex_project=vertex_project, vertex_region=vertex_region,
            vertex_endpoint=vertex_endpoint, force=int(bool(force)), input_base=input_base,
            model=types.Channel(type=standard_artifacts.Model),
            schema=types.Channel(type=standard_artifacts.Schema)))

"""The part of TFX's public API (`tfx.v1`) that bit-tfx builds its DAG with, spelled as tfx.v1
spells it (tfx.components.Trainer, tfx.dsl.Resolver, tfx.proto.TrainArgs, ...) and imported
from the modules that define those names:

    from . import tfx_api as tfx

`from tfx import v1` imports every extension of tfx.v1 as well: google_cloud_ai_platform
alone pulls in google-cloud-aiplatform, seconds of start-up that a local run, and a compile
that asks for no Vertex AI extension component, never use. The Vertex AI Trainer and Pusher
are imported where a deployment asks for them (kubeflow/placement.py), the LocalDagRunner
where a local run starts (pipeline/runner.py), the metadata connection helpers from
tfx.orchestration.metadata. The objects are TFX's own: a compiled spec is the same either way.

tfx.components (the standard components) still imports TFMA, TFDV, TFT and Beam: each
component module imports its executor, and building a DAG needs the component classes.
A name missing here is an AttributeError at the first build: add it from its defining module.
"""
from types import SimpleNamespace as _Namespace

from tfx import components
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.experimental.conditionals.conditional import Cond
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import pusher_pb2, trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

dsl = _Namespace(
    Pipeline=Pipeline, Resolver=Resolver, Channel=Channel, Cond=Cond,
    experimental=_Namespace(LatestArtifactStrategy=LatestArtifactStrategy,
                            LatestBlessedModelStrategy=LatestBlessedModelStrategy))
proto = _Namespace(TrainArgs=trainer_pb2.TrainArgs, EvalArgs=trainer_pb2.EvalArgs,
                   PushDestination=pusher_pb2.PushDestination)
types = _Namespace(standard_artifacts=standard_artifacts)

__all__ = ["components", "dsl", "proto", "types"]

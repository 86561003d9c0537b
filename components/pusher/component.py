"""Pusher: TFX's filesystem Pusher with our executor (executor.py: the nested SavedModels are
pushed too), as a component class of its own rather than the stock component with TFX's
deprecated `custom_executor_spec` override (which warned at every compile). Its spec, inputs,
outputs, parameters and node id ("Pusher", keys.NODE_PUSHER) are TFX's."""
from tfx.components.pusher import component as tfx_pusher
from tfx.dsl.components.base import executor_spec

from . import executor


class Pusher(tfx_pusher.Pusher):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

"""{SPAN} resolution by the ExampleGen executor itself, where no driver ran.

TFX's file-based ExampleGen driver resolves {SPAN} (and {VERSION}) in the input pattern to
the newest span, computes the input fingerprint and records span/version/fingerprint on the
Examples artifact. LocalDagRunner runs it (it is our ExampleGens' DRIVER_CLASS) before its
cache check, so an unchanged span is a cache hit. KubeflowV2DagRunner compiles it only for
TFX's FileBasedExampleGen, as a lifecycle.preCacheCheck hook that the open-source KFP v2
backend never runs; our ExampleGens are not FileBasedExampleGen subclasses, so they compile to
plain container steps on every target, and where no driver ran their executors call
`resolve_where_no_driver` first: the driver's own code (FileBasedDriver.resolve_exec_properties)
run in the executor, the same result on the artifact. Without a driver nothing tells the
orchestrator's cache about a new span, so kubeflow/compile.py compiles the ExampleGen step
uncached (docs/deploy.md).
"""
from absl import logging
from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen import driver, utils


def resolves_in_executor(component):
    """True for a component with the file-based driver that compiles without its hook (ours)."""
    return (getattr(component, "driver_class", None) is driver.FileBasedDriver
            and not isinstance(component, example_gen_component.FileBasedExampleGen))


def driver_ran(exec_properties):
    return exec_properties.get(utils.SPAN_PROPERTY_NAME) is not None


def resolve_where_no_driver(exec_properties):
    """exec_properties as the driver leaves them: patterns resolved to the newest span, and
    span, version and input_fingerprint set (a new dict; unchanged if the driver ran)."""
    if driver_ran(exec_properties):
        return exec_properties
    resolved = driver.FileBasedDriver(None).resolve_exec_properties(dict(exec_properties), None, None)
    logging.info("No ExampleGen driver ran: span %s (version %s) resolved by the executor",
                 resolved[utils.SPAN_PROPERTY_NAME], resolved[utils.VERSION_PROPERTY_NAME])
    return resolved


def record(examples, exec_properties):
    """Span, version and input fingerprint on the Examples artifact, as the driver records them."""
    driver.update_output_artifact(exec_properties, examples.mlmd_artifact)

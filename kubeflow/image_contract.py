"""The image contract: everything a compiled spec names by import path must import where the
steps run. A compiled pipeline refers to our code only by name: executor classes
(--executor_class_path), the container entrypoints (python -m MODULE), the Trainer's run_fn
and the Transform's preprocessing_fn; none of it is packaged into the spec.

    python -m bit_tfx.kubeflow.image_contract            # inside the image (scripts/build_image.sh)
    python -m bit_tfx.kubeflow.image_contract SPEC_FILE  # the paths of a compiled file

Without a file it compiles a probe pipeline for both targets (offline: the data and pipeline
root are gs:// names that are never read) and checks what those name. Prints JSON; exits 1
when something does not import.
"""
import importlib
import json
import os
import sys
import tempfile

# Exec properties that hold import paths of our code.
CODE_PARAMETERS = ("run_fn", "preprocessing_fn", "module_path")
VERTEX_TRAINER_PACKAGE = "tfx.extensions.google_cloud_ai_platform.trainer."


def task_parameters(spec, task_name):
    """{parameter name: Python value} of a task's constant inputs, in either schema."""
    from . import compile as compiling  # pylint: disable=import-outside-toplevel
    return {name: value for name, (value, _) in
            compiling.constant_parameters(spec.root.dag.tasks[task_name]).items()}


def referenced_import_paths(spec):
    """{import path: [where it is named]} for every path the spec's container tasks name."""
    from . import compile as compiling  # pylint: disable=import-outside-toplevel
    found = {}

    def add(path, where):
        found.setdefault(path, []).append(where)

    for name, container in compiling.container_executors(spec).items():
        for command, args, what in ((container.command, container.args, "executor"),
                                    (container.lifecycle.pre_cache_check.command,
                                     container.lifecycle.pre_cache_check.args, "driver")):
            command = list(command)
            if "-m" in command:
                add(command[command.index("-m") + 1], f"{name} {what} entrypoint")
            args = list(args)
            if "--executor_class_path" in args:
                executor = args[args.index("--executor_class_path") + 1]
                add(executor, f"{name} {what} class")
                if executor.startswith(VERTEX_TRAINER_PACKAGE):
                    # The Vertex AI Training replicas run the Trainer executor through this.
                    add("tfx.scripts.run_executor", f"{name} Vertex AI Training replicas")
        for key, value in task_parameters(spec, name).items():
            if key in CODE_PARAMETERS and value:
                add(value, f"{name} {key}")
    return found


def check_imports(paths):
    """{path: error} for the paths that do not import (a module, or module.attribute)."""
    failures = {}
    for path in sorted(paths):
        try:
            try:
                importlib.import_module(path)
            except ModuleNotFoundError:
                module, _, attribute = path.rpartition(".")
                if not module:
                    raise
                getattr(importlib.import_module(module), attribute)
        except Exception as e:  # pylint: disable=broad-except
            failures[path] = f"{type(e).__name__}: {e}"
    return failures


def probe_specs(folder):
    """Compiles probe pipelines for both targets into `folder`; yields their PipelineSpecs."""
    from . import compile as compiling, config, validation  # pylint: disable=import-outside-toplevel
    # Between them the two probes use every placement: Trainer as a step and as a Vertex AI
    # Training job, filesystem Pusher and Vertex AI Endpoint Pusher.
    for target, extra in (
            (config.VERTEX, {"trainer_placement": config.VERTEX_TRAINING, "vertex_endpoint": "probe"}),
            (config.KFP, {"serving_dir": "gs://probe-bucket/serving"})):
        deploy = validation.validate(config.load({
            "target": target, "spec": os.path.join(folder, "probe" + config.OUTPUT_SUFFIXES[target][0]),
            "project": "probe-project", "region": "us-central1", "pipeline_root": "gs://probe-bucket/root",
            "image": "probe.invalid/bit-tfx:probe",
            "data": "gs://probe-bucket/images/span-{SPAN}", "layout": "class_folders", "num_classes": 2,
            **extra}, source="probe"))
        yield compiling.compile_spec(deploy)[1]  # as compiled and read back: not read again


def main(argv):
    from . import compile as compiling  # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as folder:
        specs = [compiling.load(path)[0] for path in argv[1:]] or list(probe_specs(folder))
        paths = {}
        for spec in specs:
            for name, where in referenced_import_paths(spec).items():
                paths.setdefault(name, []).extend(where)
    failures = check_imports(paths)
    print(json.dumps({"python": sys.version.split()[0], "checked": sorted(paths), "failures": failures},
                     indent=1, sort_keys=True))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

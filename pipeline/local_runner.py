"""Runner file for the TFX CLI's local engine:

    tfx pipeline create --engine=local --pipeline_path=pipeline/local_runner.py
    tfx run create --engine=local --pipeline_name=bit-tfx

The configuration comes from a JSON file named by BIT_TFX_CONFIG (the RunConfig fields,
e.g. {"data": "/data/flowers", "output": "/runs/flowers"}); without it, the embedded demo
(the same settings as `bit-tfx demo`). Paths are made absolute here, because `tfx run create`
executes this file again from wherever it is called.
"""
import json
import os
import sys

# Run as a script, this file's folder is sys.path[0], where `pipeline` would name the module
# pipeline/pipeline.py instead of the package: import from the project root instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pipeline import configs, demo_data, pipeline, runner  # noqa: E402


def load_config():
    path = os.environ.get("BIT_TFX_CONFIG")
    if path:
        with open(path) as f:
            values = json.load(f)
    else:
        from pipeline.cli import DEMO_DEFAULTS
        values = dict(DEMO_DEFAULTS, data=os.path.abspath(os.path.join(DEMO_DEFAULTS["output"], "demo-data")))
        if not os.path.isdir(values["data"]):
            demo_data.write_digits(values["data"], per_class=40)
    values["output"] = os.path.abspath(values.get("output", "bit-tfx-output"))
    return configs.RunConfig(**values).validate()


if __name__ == "__main__":
    runner.run_local(pipeline.build(load_config()))

"""Runner file for the TFX CLI's local engine:

    tfx pipeline create --engine=local --pipeline_path=local_runner.py
    tfx run create --engine=local --pipeline_name=bit-tfx

The configuration comes from a JSON file named by BIT_TFX_CONFIG (the RunConfig fields,
e.g. {"data": "/data/flowers", "output": "/runs/flowers"}); without it, the embedded demo
(the same settings as `bit-tfx demo`). Paths are made absolute here, because `tfx run create`
executes this file again from wherever it is called.
"""
import json
import os

from bit_tfx.datasets import digits
from bit_tfx.pipeline import configs, pipeline, runner


def load_config():
    path = os.environ.get("BIT_TFX_CONFIG")
    if path:
        with open(path) as f:
            values = json.load(f)
    else:
        demo = configs.DEMO_DEFAULTS
        values = dict(demo, data=os.path.abspath(os.path.join(demo["output"], configs.DEMO_DATA_DIR)))
        if not os.path.isdir(values["data"]):
            digits.write_digits(values["data"], per_class=configs.DEMO_PER_CLASS)
    values["output"] = os.path.abspath(values.get("output", configs.RunConfig.output))
    return configs.RunConfig(**values).validate()


if __name__ == "__main__":
    runner.run_local(pipeline.build(load_config()))

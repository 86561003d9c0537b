"""Runner file for the TFX CLI's Vertex engine:

    BIT_TFX_DEPLOY_CONFIG=deploy.yaml tfx pipeline create --engine=vertex --pipeline_path=kubeflow_v2_runner.py
    BIT_TFX_DEPLOY_CONFIG=deploy.yaml tfx run create --engine=vertex --pipeline_name=bit-tfx \\
        --project=PROJECT --region=REGION

BIT_TFX_DEPLOY_CONFIG names a deployment config file (JSON or YAML, the keys of
kubeflow/config.py, as `bit-tfx compile --config` reads). The file calls
KubeflowV2DagRunner.run() exactly once, as the CLI requires; the CLI stores the PipelineJob
JSON under ~/tfx/vertex/<pipeline name>/ and `tfx run create` submits it.

Run directly (`python kubeflow_v2_runner.py`) it writes the file named by the config's
`spec` (default ./<pipeline name>.json, or .yaml for target kfp).

`--engine=kubeflow` is KFP v1, whose runner TFX 1.16 no longer has (the CLI fails with an
ImportError); for KFP v2 use `bit-tfx compile --target kfp` (docs/deploy.md).
"""
import dataclasses
import os
import sys

from bit_tfx.core.errors import ConfigError
from bit_tfx.kubeflow import compile as compiling
from bit_tfx.kubeflow import config as deploy_config
from bit_tfx.kubeflow import validation

CONFIG_ENV = "BIT_TFX_DEPLOY_CONFIG"


def load_config():
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"{CONFIG_ENV} must name a deployment config file (docs/deploy.md)")
    values = deploy_config.read_file(path)
    values.setdefault("target", deploy_config.VERTEX)
    config = validation.validate(deploy_config.load(values, source=f"config file {path}"))
    suffix = deploy_config.OUTPUT_SUFFIXES[config.target][0]
    spec = os.path.abspath(config.spec or f"{config.pipeline_name}{suffix}")
    return dataclasses.replace(config, spec=spec)


def main():
    try:
        config = load_config()
        tfx_pipeline, warnings = compiling.build(config)
    except ConfigError as e:
        sys.exit(f"bit-tfx: configuration error: {e}")
    for warning in warnings:
        print(f"bit-tfx: warning: {warning}", file=sys.stderr)
    # The one KubeflowV2DagRunner.run() call; under `tfx pipeline create` the CLI redirects
    # its output to its own folder.
    compiling.runner(config, config.spec).run(tfx_pipeline)


if __name__ == "__main__":
    main()

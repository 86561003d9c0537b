"""Where the Trainer runs and where the Pusher pushes, on Kubeflow Pipelines v2 / Vertex AI.

KubeflowPlatform is the `platform=` of pipeline.create_pipeline: the DAG is the same one
function as locally; only these placements differ.

Trainer, two ways:
  step             the pipeline step itself gets resources: a ResourceSpec (CPU, memory,
                   accelerator type and count) attached with with_platform_config().
  vertex_training  the step launches a Vertex AI Training CustomJob (the
                   google_cloud_ai_platform Trainer): worker pools for GPU machines, several
                   replicas (multi-worker), or TPU VMs. Each replica runs the same run_fn in
                   our image; models/training/distribution.py picks the strategy from what
                   it finds there (TF_CONFIG with several workers, several GPUs, TPU_NAME).
Pusher: a filesystem Pusher to a gs:// folder (as locally), or the google_cloud_ai_platform
Pusher, which uploads the model to the Vertex AI Model Registry and deploys it to an Endpoint.
ServingBaseline looks for the gate's baseline where the Pusher pushes: the newest version in
the gs:// folder, or the model the Endpoint serves.
"""
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.extensions.google_cloud_ai_platform import constants as vertex_constants  # plain strings

from ..core import keys
from ..components.serving.component import ServingBaseline
from ..pipeline import pipeline

from . import config as deploy_config

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec


class KubeflowPlatform(pipeline.LocalPlatform):
    """Trainer placement, push destination and baseline lookup from a DeployConfig."""

    def __init__(self, deploy):
        super().__init__(deploy.run_config())
        self.deploy = deploy

    # ------------------------------------------------------------------ Trainer
    def trainer(self, **kwargs):
        d = self.deploy
        if d.trainer_placement == deploy_config.VERTEX_TRAINING:
            # The extension's modules import google-cloud-aiplatform: only when asked for.
            # pylint: disable=import-outside-toplevel
            from tfx.extensions.google_cloud_ai_platform.trainer.component import Trainer as VertexTrainer
            from tfx.extensions.google_cloud_ai_platform.trainer.executor import TRAINING_ARGS_KEY
            custom_config = dict(kwargs.pop(keys.CUSTOM_CONFIG_KEY) or {})
            custom_config.update({
                vertex_constants.ENABLE_VERTEX_KEY: True,
                vertex_constants.VERTEX_REGION_KEY: d.region,
                TRAINING_ARGS_KEY: self.vertex_training_args(),
            })
            return VertexTrainer(custom_config=custom_config, **kwargs)
        trainer = super().trainer(**kwargs)
        resources = self.step_resources()
        if resources is not None:
            trainer.with_platform_config(resources)
        return trainer

    def step_resources(self):
        """The Trainer step's ResourceSpec, or None when nothing is asked for."""
        d = self.deploy
        if d.trainer_cpu is None and d.trainer_memory_gb is None and not d.trainer_accelerator_type:
            return None
        spec = ResourceSpec()
        if d.trainer_cpu is not None:
            spec.cpu_limit = float(d.trainer_cpu)
        if d.trainer_memory_gb is not None:
            spec.memory_limit = float(d.trainer_memory_gb)
        if d.trainer_accelerator_type:
            spec.accelerator.type = d.trainer_accelerator_type
            spec.accelerator.count = d.accelerator_count
        return spec

    def vertex_training_args(self):
        """custom_config[TRAINING_ARGS_KEY] of the Vertex AI Trainer: the project and the
        CustomJob spec (worker pools); the extension fills in the container command."""
        d = self.deploy
        machine = {"machine_type": d.trainer_machine_type}
        if d.trainer_accelerator_type:
            machine["accelerator_type"] = d.trainer_accelerator_type
            machine["accelerator_count"] = d.accelerator_count
        if d.trainer_tpu_topology:
            machine["tpu_topology"] = d.trainer_tpu_topology
        container = {"image_uri": d.trainer_image or d.image}
        if d.uses_tpu:
            # On a TPU VM the TPU is local: distribution.choose_strategy reads TPU_NAME.
            container["env"] = [{"name": "TPU_NAME", "value": "local"}]
        chief = {"machine_spec": machine, "replica_count": 1, "container_spec": container}
        if d.trainer_boot_disk_gb:
            chief["disk_spec"] = {"boot_disk_type": "pd-ssd", "boot_disk_size_gb": d.trainer_boot_disk_gb}
        pools = [chief]
        if d.trainer_replica_count > 1:
            # Vertex sets TF_CONFIG on every replica (chief + workers): MultiWorkerMirroredStrategy.
            pools.append(dict(chief, replica_count=d.trainer_replica_count - 1))
        job_spec = {"worker_pool_specs": pools}
        if d.service_account:
            job_spec["service_account"] = d.service_account
        return {"project": d.project, "job_spec": job_spec}

    # ------------------------------------------------------------------ Pusher
    def serving_baseline(self, examples, input_base=None):
        d = self.deploy
        if not d.vertex_endpoint:  # the newest version in the gs:// serving_dir
            return super().serving_baseline(examples, input_base=input_base)
        return ServingBaseline(examples, vertex_project=d.project, vertex_region=d.region,
                               vertex_endpoint=d.vertex_endpoint, force=self.config.force,
                               input_base=input_base)

    def pusher(self, model, model_blessing):
        d = self.deploy
        if not d.vertex_endpoint:
            return super().pusher(model, model_blessing)  # filesystem Pusher to the gs:// serving_dir
        # pylint: disable-next=import-outside-toplevel
        from tfx.extensions.google_cloud_ai_platform.pusher.component import Pusher as VertexPusher
        return VertexPusher(
            model=model, model_blessing=model_blessing,
            custom_config={
                vertex_constants.ENABLE_VERTEX_KEY: True,
                vertex_constants.VERTEX_REGION_KEY: d.region,
                vertex_constants.VERTEX_CONTAINER_IMAGE_URI_KEY: d.serving_image,
                vertex_constants.SERVING_ARGS_KEY: {
                    "project_id": d.project,
                    "endpoint_name": d.vertex_endpoint,
                    "machine_type": d.serving_machine_type,
                    "min_replica_count": d.serving_min_replicas,
                    "max_replica_count": d.serving_max_replicas,
                },
            })

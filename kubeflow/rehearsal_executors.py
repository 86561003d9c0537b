"""What a rehearsal (kubeflow/rehearse.py) runs in place of a Google Cloud service, inside the
task's own container command. Imported by the task's process, by import path.

VertexTrainingHere: the Trainer placed on Vertex AI Training (`trainer_placement:
vertex_training`). The extension's executor builds a Vertex AI CustomJob with TFX's own client
(training_clients.VertexJobClient.create_training_job: every worker pool's container command is
`python -m tfx.scripts.run_executor` with the Trainer's inputs, outputs and exec properties)
and submits it; this one builds the same CustomJob, writes it beside the task's outputs
(vertex_custom_job.json), and runs the chief replica's container command here with the
replica's environment (`env` of its container spec), instead of submitting it. More replicas
(multi-worker) and the accelerators are not run: the rehearsal says so.
"""
import json
import os
import subprocess
import sys

from absl import logging
from tfx.extensions.google_cloud_ai_platform import constants
from tfx.extensions.google_cloud_ai_platform import training_clients
from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as specs
from tfx.utils import json_utils, name_utils

CUSTOM_JOB_FILE = "vertex_custom_job.json"


class _OfflineVertexJobClient(training_clients.VertexJobClient):
    """TFX's Vertex AI job client without its API client: it only builds the CustomJob."""

    def create_client(self):
        self._client = None


class VertexTrainingHere(vertex_trainer.GenericExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        custom_config = json_utils.loads(exec_properties.get(specs.CUSTOM_CONFIG_KEY, "null")) or {}
        job_args = dict(custom_config[vertex_trainer.TRAINING_ARGS_KEY])
        job_args.pop("project")  # as runner.start_cloud_training does
        client = _OfflineVertexJobClient(custom_config[constants.VERTEX_REGION_KEY])
        job = client.create_training_job(input_dict, output_dict, exec_properties,
                                         name_utils.get_full_name(self._GetExecutorClass()), job_args,
                                         custom_config.get(vertex_trainer.JOB_ID_KEY), None)
        model = artifact_utils.get_single_instance(output_dict[specs.MODEL_KEY])
        record = os.path.join(os.path.dirname(model.uri.rstrip("/")), CUSTOM_JOB_FILE)
        with open(record, "w", encoding="utf-8") as f:
            json.dump(job, f, indent=1, sort_keys=True, default=str)
        pools = job["job_spec"]["worker_pool_specs"]
        chief = pools[0]["container_spec"]
        replicas = sum(int(p.get("replica_count", 1)) for p in pools)
        logging.info("Vertex AI CustomJob %s (%d replica(s), %s): running the chief replica here",
                     record, replicas, pools[0].get("machine_spec"))
        command = [sys.executable if i == 0 and part == "python" else part
                   for i, part in enumerate(list(chief["command"]) + list(chief.get("args", [])))]
        env = dict(os.environ, **{e["name"]: e["value"] for e in chief.get("env", [])})
        env.pop("TPU_NAME", None)  # a TPU VM's local TPU: not on this machine
        subprocess.run(command, env=env, check=True)

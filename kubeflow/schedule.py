"""Scheduled retraining: a Vertex AI PipelineJob schedule, or a KFP recurring run.

Each scheduled run is the whole pipeline: the compiled spec has no driver hook, so
ImageExampleGen's executor resolves {SPAN} in the input pattern to the newest span itself
(components/image_example_gen/span.py), and the Evaluator gates the new model against the model
the Pusher's destination serves now, found by ServingBaseline (min_accuracy,
max_accuracy_drop), so a run never pushes a worse model than the one serving. A run whose data
is what the serving model was trained on trains nothing: the training branch's steps carry a
trigger condition on ServingBaseline's `train` (pipeline.training_predicate).

The requests are built by the clients' own code: google-cloud-aiplatform's
PipelineJob / PipelineJobSchedule.create() for Vertex (ScheduleService.CreateSchedule), and
kfp.Client.create_recurring_run() for KFP (RecurringRunService.CreateRecurringRun). With
dry_run, only the final network call is replaced by a recorder, so the printed request is
the one that would be sent. Without dry_run the real calls are made (credentials: Application
Default Credentials for Vertex; the KFP endpoint's own authentication for KFP).
"""
import json
import logging

from . import config as deploy_config

DRY_RUN_EXPERIMENT_ID = "<id of experiment {name!r}, created if missing>"


class _Recorded(Exception):
    """Stops a client right where it would send its request."""


def vertex(deploy, template_path, dry_run=False):
    """Creates (or, dry_run, shows) the Vertex AI schedule for the compiled PipelineJob JSON."""
    from google.cloud import aiplatform  # pylint: disable=import-outside-toplevel
    from google.cloud.aiplatform_v1.types import schedule_service  # pylint: disable=import-outside-toplevel
    credentials = None
    if dry_run:
        from google.auth.credentials import AnonymousCredentials  # pylint: disable=import-outside-toplevel
        credentials = AnonymousCredentials()
    job = aiplatform.PipelineJob(
        display_name=deploy.pipeline_name, template_path=template_path,
        pipeline_root=deploy.pipeline_root, project=deploy.project, location=deploy.region,
        credentials=credentials)
    # What PipelineJob.create_schedule() does, with the schedule object in hand.
    schedule = aiplatform.PipelineJobSchedule(
        pipeline_job=job, display_name=deploy.schedule_display_name, credentials=job.credentials,
        project=deploy.project, location=deploy.region)
    create = dict(cron=deploy.vertex_cron(), max_concurrent_run_count=deploy.max_concurrent_runs,
                  service_account=deploy.service_account)
    if not dry_run:
        schedule.create(**create)
        return {"target": deploy.target, "schedule": schedule.resource_name, "cron": deploy.vertex_cron(),
                "console": schedule._dashboard_uri()}  # pylint: disable=protected-access
    recorder = _VertexRecorder()
    schedule.api_client = recorder
    try:
        schedule.create(**create)
    except _Recorded:
        pass
    request = schedule_service.CreateScheduleRequest(parent=recorder.parent, schedule=recorder.schedule)
    return {"dry_run": True, "target": deploy.target,
            "method": "google.cloud.aiplatform.v1.ScheduleService.CreateSchedule",
            "endpoint": f"{deploy.region}-aiplatform.googleapis.com",
            "request": json.loads(schedule_service.CreateScheduleRequest.to_json(request))}


class _VertexRecorder:
    def create_schedule(self, parent, schedule, timeout=None):  # pylint: disable=unused-argument
        self.parent, self.schedule = parent, schedule
        raise _Recorded()


def kfp(deploy, package_path, dry_run=False):
    """Creates (or, dry_run, shows) the KFP recurring run for the compiled PipelineSpec YAML."""
    import kfp as kfp_sdk  # pylint: disable=import-outside-toplevel
    import kfp_server_api  # pylint: disable=import-outside-toplevel
    create = dict(job_name=deploy.schedule_display_name, cron_expression=deploy.cron,
                  max_concurrency=deploy.max_concurrent_runs,
                  # A paused schedule must not start one run per missed interval when resumed.
                  no_catchup=True, pipeline_package_path=package_path,
                  pipeline_root=deploy.pipeline_root, service_account=deploy.service_account,
                  description=f"bit-tfx scheduled retraining of {deploy.pipeline_name}")
    if not dry_run:
        client = kfp_sdk.Client(host=deploy.kfp_host, namespace=deploy.kfp_namespace or "kubeflow")
        experiment = client.create_experiment(name=deploy.kfp_experiment, namespace=deploy.kfp_namespace)
        run = client.create_recurring_run(experiment_id=experiment.experiment_id, **create)
        return {"target": deploy.target, "recurring_run_id": run.recurring_run_id,
                "experiment_id": experiment.experiment_id, "cron": deploy.cron}
    # kfp.Client.__init__ contacts the server (health check); create_recurring_run() itself
    # only builds the body and hands it to the generated API, which the recorder replaces.
    client = object.__new__(kfp_sdk.Client)
    client._recurring_run_api = _KfpRecorder()  # pylint: disable=protected-access
    client.create_recurring_run(experiment_id=DRY_RUN_EXPERIMENT_ID.format(name=deploy.kfp_experiment),
                                **create)
    body = client._recurring_run_api.body  # pylint: disable=protected-access
    return {"dry_run": True, "target": deploy.target,
            "method": "kfp_server_api.RecurringRunServiceApi.create_recurring_run "
                      "(POST /apis/v2beta1/recurringruns)",
            "endpoint": deploy.kfp_host or "(KF_PIPELINES_ENDPOINT or in-cluster)",
            "request": kfp_server_api.ApiClient().sanitize_for_serialization(body)}


class _KfpRecorder:
    def create_recurring_run(self, body):
        self.body = body
        return body


def create(deploy, compiled_path, dry_run=False):
    logging.info("%s schedule %r, cron %r%s", deploy.target, deploy.schedule_display_name, deploy.cron,
                 " (dry run: nothing is sent)" if dry_run else "")
    if deploy.target == deploy_config.VERTEX:
        return vertex(deploy, compiled_path, dry_run)
    return kfp(deploy, compiled_path, dry_run)

"""Running a pipeline locally: LocalDagRunner (Beam DirectRunner, SQLite MLMD)."""
import logging

from tfx import v1 as tfx


def run_local(pipeline):
    logging.info("Running pipeline %s locally (root %s)", pipeline.pipeline_info.pipeline_name,
                 pipeline.pipeline_info.pipeline_root)
    tfx.orchestration.LocalDagRunner().run(pipeline)

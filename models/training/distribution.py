"""One code path that picks the distribution strategy from the environment it lands in."""
import json
import logging
import os

import tensorflow as tf


def choose_strategy(tpu_address=None):
    """TPU if present; multi-worker when TF_CONFIG lists several workers; mirrored over
    several local devices; the default strategy otherwise."""
    tpu = tpu_address if tpu_address is not None else os.environ.get("TPU_NAME")
    if tpu:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        logging.info("Distribution: TPUStrategy on %s", tpu)
        return tf.distribute.TPUStrategy(resolver)
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    if sum(len(v) for k, v in cluster.items() if k in ("chief", "worker")) > 1:
        logging.info("Distribution: MultiWorkerMirroredStrategy over %s", cluster)
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        logging.info("Distribution: MirroredStrategy over %d GPUs", len(gpus))
        return tf.distribute.MirroredStrategy()
    cpus = tf.config.list_logical_devices("CPU")
    if not gpus and len(cpus) > 1:  # logical CPU devices (tests and smoke runs)
        logging.info("Distribution: MirroredStrategy over %d logical CPU devices", len(cpus))
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    logging.info("Distribution: default strategy (%s)", gpus[0].name if gpus else "CPU")
    return tf.distribute.get_strategy()


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())

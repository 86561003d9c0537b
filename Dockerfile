# The bit-tfx pipeline image: the official TFX 1.16.0 image plus exactly this project and its
# pinned dependencies (requirements.lock). Every step of a compiled pipeline (Vertex AI
# Pipelines or KFP v2), the Vertex AI Training replicas and the Dataflow workers run this
# image, and the compiled specs name our code only by import path (executor classes, run_fn,
# preprocessing_fn), so all of it must import here: `python -m bit_tfx.kubeflow.image_contract`
# checks that at the end of this build (scripts/build_image.sh prints its result).
#
# The base (tensorflow/tfx v1.16.0, tfx/tools/docker/Dockerfile and build_docker_image.sh):
# gcr.io/deeplearning-platform-release/tf2-gpu.2-16.py310, i.e. Python 3.10 in conda
# (/opt/conda/bin/python is the `python` the compiled specs call) with CUDA for TF 2.16, and
# ENTRYPOINT ["/opt/apache/beam/boot"], so the image is also a Beam SDK worker container for
# Dataflow (--sdk_container_image). The pipeline steps give their own command
# (python -m tfx.orchestration.kubeflow.v2...), which replaces that entrypoint; it is kept.
#
# Build and push: scripts/build_image.sh IMAGE (make image IMAGE=...), which builds the wheel
# first; a plain `docker build .` finds no wheel. See docs/deploy.md.
ARG TFX_IMAGE=gcr.io/tfx-oss-public/tfx:1.16.0
# The apache-beam version of requirements.lock (scripts/build_image.sh passes it).
ARG BEAM_VERSION=2.74.0

FROM apache/beam_python3.10_sdk:${BEAM_VERSION} AS beam

FROM ${TFX_IMAGE}
ARG UV_VERSION=0.13.9
ENV TF_USE_LEGACY_KERAS=1 \
    TF_ENABLE_ONEDNN_OPTS=1 \
    UV_NO_CACHE=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /opt/bit-tfx
# 1. Exactly the lock, as `make venv` installs it: with uv and --no-deps (the lock is complete
#    and holds one deliberate override, see requirements-overrides.txt). Pins that differ from
#    the base image's (apache-beam, google-cloud-aiplatform, ...) replace them.
COPY requirements.lock requirements-overrides.txt ./
RUN python -m pip install --no-cache-dir "uv==${UV_VERSION}" \
 && uv pip install --python "$(command -v python)" --no-deps --compile-bytecode -r requirements.lock

# 2. The Beam worker boot program of the same Beam version as the installed SDK (the base
#    image's comes from its own Beam 2.59).
COPY --from=beam /opt/apache/beam /opt/apache/beam

# 3. This project, as the wheel scripts/build_image.sh builds from the checkout into build/image/
#    (the only file of ours in the build context, .dockerignore; tests/test_wheel.py builds one
#    the same way, checks what it holds and runs it installed on its own). Not editable,
#    --no-deps (step 1 installed every dependency), byte-compiled: the base image sets
#    PYTHONDONTWRITEBYTECODE, so nothing would ever be cached and every step would compile every
#    module it imports again.
COPY build/image/bit_tfx-*.whl ./
RUN uv pip install --python "$(command -v python)" --no-deps --compile-bytecode ./bit_tfx-*.whl \
 && cd / && python -m bit_tfx.kubeflow.image_contract > /opt/bit-tfx/image_contract.json

WORKDIR /

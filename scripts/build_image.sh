#!/usr/bin/env bash
# Builds the wheel of this checkout (build/image/), then the pipeline image from the Dockerfile,
# which installs that wheel and, as its last step, checks the image contract; shows that check's
# result, and pushes the image. Needs `make venv` (the wheel is built with its Python), a Docker
# engine and push access to the registry (docs/deploy.md, "The image").
#
#   scripts/build_image.sh REGION-docker.pkg.dev/PROJECT/REPOSITORY/bit-tfx:TAG [--no-push]
#   make image IMAGE=REGION-docker.pkg.dev/PROJECT/REPOSITORY/bit-tfx:TAG
#
# Prints the pushed image by digest (IMAGE@sha256:...): give that to `bit-tfx compile --image`
# so that every scheduled run uses exactly this build.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:?usage: scripts/build_image.sh IMAGE[:TAG] [--no-push]}
push=true
[[ "${2:-}" == "--no-push" ]] && push=false

# The Beam worker boot program must match the apache-beam version the lock installs.
beam_version=$(sed -n 's/^apache-beam==\([0-9.]*\).*/\1/p' requirements.lock)
[[ -n "$beam_version" ]] || { echo "apache-beam is not pinned in requirements.lock" >&2; exit 1; }

# The wheel: what the image installs of this project, and nothing else of the checkout goes into
# the build context (.dockerignore). Built as tests/test_wheel.py builds the wheel it checks;
# setup.py finds every package and data file under its folders and starts each build afresh.
python=${PYTHON:-.venv/bin/python}
[[ -x "$python" ]] || { echo "no $python: run make venv (or set PYTHON)" >&2; exit 1; }
rm -rf build/image
"$python" -m pip wheel --no-deps --no-build-isolation --disable-pip-version-check --quiet \
  --wheel-dir build/image .
ls build/image/bit_tfx-*.whl >&2

docker build --build-arg "BEAM_VERSION=${beam_version}" -t "$image" .

# The build itself ran the image contract check (every import path a compiled spec names
# imports, with the image's python) and failed on any miss; show what it checked.
docker run --rm --entrypoint cat "$image" /opt/bit-tfx/image_contract.json

if $push; then
  docker push "$image"
  docker inspect --format '{{index .RepoDigests 0}}' "$image"
fi

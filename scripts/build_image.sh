#!/usr/bin/env bash
# Builds the pipeline image from the Dockerfile (whose last step checks the image contract),
# shows that check's result, and pushes it. Needs a Docker engine and push access to the registry (docs/deploy.md, "The image").
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

docker build --build-arg "BEAM_VERSION=${beam_version}" -t "$image" .

# The build itself ran the image contract check (every import path a compiled spec names
# imports, with the image's python) and failed on any miss; show what it checked.
docker run --rm --entrypoint cat "$image" /opt/bit-tfx/image_contract.json

if $push; then
  docker push "$image"
  docker inspect --format '{{index .RepoDigests 0}}' "$image"
fi

# bit-tfx developer entry points. Every target creates the Python 3.10 virtual environment
# in .venv when it is missing and reuses it otherwise.
SHELL := /bin/bash
PYTHON310 ?= $(shell p=$$(pyenv root 2>/dev/null)/versions/3.10.13/bin/python; \
                [ -x "$$p" ] && echo $$p || command -v python3.10)
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
DEMO_DIR ?= demo-output
PYTEST_ARGS ?=

.PHONY: venv demo test test-all bench backbone lock clean image

# The stamp depends on the lock: editing the lock re-syncs the environment.
$(VENV)/.installed: requirements.lock setup.py
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it (pyenv install 3.10.13) or set PYTHON310=/path/to/python3.10" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@# --no-deps: the lock is complete and exact, and contains one deliberate override
	@# (see requirements-overrides.txt) that a resolver would refuse.
	$(VENV)/bin/uv pip install --python $(PY) --no-deps --compile-bytecode -r requirements.lock
	$(VENV)/bin/uv pip install --python $(PY) --no-deps -e .
	@touch $@

venv: $(VENV)/.installed

demo: venv
	@# Exit 4: the demo model serving was trained on this data already ("nothing_new"): not an error.
	$(VENV)/bin/bit-tfx demo --output $(DEMO_DIR) || [ $$? -eq 4 ]

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: venv
	$(PY) -m pytest -m "" $(PYTEST_ARGS)

bench: venv
	$(PY) bench/ingestion.py

# Regenerate the shipped backbone (models/backbones/fractal_small) with `bit-tfx pretrain` on
# the generated corpus: about 10 minutes on 2 CPU cores (docs/benchmarks.md).
backbone: venv
	$(PY) scripts/make_backbone.py --work build/backbone

# Re-resolve requirements.in (+ overrides) into the exact pins of requirements.lock.
lock: venv
	$(VENV)/bin/uv pip compile requirements.in --override requirements-overrides.txt \
	  --python-version 3.10 --python-platform x86_64-manylinux_2_28 --no-header -o requirements.lock

# The pipeline image for Vertex AI / KFP (needs Docker): builds this project's wheel into
# build/image/ with the venv's Python, then the image that installs it (Dockerfile), and pushes.
# make image IMAGE=REGISTRY/PATH/bit-tfx:TAG
image: venv
	@test -n "$(IMAGE)" || { echo "usage: make image IMAGE=REGION-docker.pkg.dev/PROJECT/REPOSITORY/bit-tfx:TAG" >&2; exit 1; }
	scripts/build_image.sh $(IMAGE)

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info

"""Where the gate's baseline is looked up: the version TF Serving serves from a serving folder,
and the model a Vertex AI Endpoint serves (its DeployedModel objects, google-cloud-aiplatform's
own types; finding the Endpoint itself needs the network and is not exercised here)."""
import os

import pytest

from bit_tfx.core import keys
from bit_tfx.core import versions
from bit_tfx.components.serving import vertex


def _version(serving, name, complete=True):
    folder = serving / name
    os.makedirs(folder / "variables")
    if complete:
        (folder / keys.SAVED_MODEL_PB).write_bytes(b"")
    return str(folder)


def test_the_newest_complete_version_is_serving(tmp_path):
    serving = tmp_path / "serving"
    assert versions.serving_version(str(serving)) == (None, f"no version under {serving} (nothing pushed yet)")
    old = _version(serving, "1700000000")
    newest = _version(serving, "1700000300")
    _version(serving, "1700000900", complete=False)  # a push still copying (saved_model.pb comes last)
    os.makedirs(serving / "notes")  # TF Serving ignores non-numeric folders; so do we
    assert versions.pushed_versions(str(serving)) == (
        {1700000000: old, 1700000300: newest}, [str(serving / "1700000900")])
    assert versions.serving_version(str(serving)) == (newest, None)


def test_only_incomplete_versions_are_named_in_the_reason(tmp_path):
    serving = tmp_path / "serving"
    _version(serving, "5", complete=False)
    folder, reason = versions.serving_version(str(serving))
    assert folder is None and str(serving / "5") in reason and keys.SAVED_MODEL_PB in reason


def test_the_deployed_model_taking_the_traffic_is_serving():
    from google.cloud.aiplatform_v1.types import endpoint
    old = endpoint.DeployedModel(id="111", model="projects/p/locations/r/models/1", display_name="v1")
    new = endpoint.DeployedModel(id="222", model="projects/p/locations/r/models/2", display_name="v2")
    assert vertex.serving_deployed_model([old, new], {"222": 100}) is new  # as the Vertex Pusher deploys
    assert vertex.serving_deployed_model([old, new], {"111": 90, "222": 10}) is old  # a manual rollback
    assert vertex.serving_deployed_model([old, new], {}) is None
    assert vertex.serving_deployed_model([], {"222": 100}) is None


def test_serving_baseline_looks_in_exactly_one_place():
    from bit_tfx.components.serving.component import ServingBaseline
    from tfx import types
    from tfx.types import standard_artifacts
    examples = types.Channel(type=standard_artifacts.Examples)
    with pytest.raises(ValueError, match="one place"):
        ServingBaseline(examples)
    with pytest.raises(ValueError, match="one place"):
        ServingBaseline(examples, serving_directory="/s", vertex_endpoint="e", vertex_project="p",
                        vertex_region="r")
    with pytest.raises(ValueError, match="needs vertex_project and vertex_region"):
        ServingBaseline(examples, vertex_endpoint="flowers")

"""The model pre-flight (issue 24): a model that cannot be reached stops a local run before
any step, with how to work offline, instead of failing at the Trainer after 8 steps. No test
here needs the network: URLs point at servers this test starts on loopback, or at a closed
loopback port."""
import contextlib
import hashlib
import http.server
import os
import socket
import threading
import time

import pytest

import runs
from bit_tfx.models.bit import spec
from bit_tfx.core.errors import ConfigError
from bit_tfx.models import backbones

OFFLINE_HINTS = ("hub:/path/to/saved_model_dir", "npz:/path/file.npz", "TFHUB_CACHE_DIR")


def _closed_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


@contextlib.contextmanager
def _server(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Answers(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802  (http.server's naming)
        self.send_response(200 if self.path.startswith("/google/bit/") else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


class _Silent(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802
        time.sleep(5)

    def log_message(self, *args):
        pass


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub-cache"))
    return tmp_path / "hub-cache"


def test_an_unreachable_hub_url_fails_fast_saying_how_to_work_offline(empty_hub_cache):
    url = f"http://127.0.0.1:{_closed_port()}/google/bit/m-r50x1/1"
    started = time.monotonic()
    with pytest.raises(ConfigError) as e:
        spec.preflight(f"hub:{url}", shipped=backbones.FRACTAL_SMALL.model_spec)
    assert time.monotonic() - started < 3
    message = str(e.value)
    assert e.value.field == "model_spec" and f"cannot load TF Hub module '{url}'" in message
    assert "Connection refused" in message and str(empty_hub_cache) in message, message
    assert all(hint in message for hint in OFFLINE_HINTS), message
    assert f"--model {backbones.FRACTAL_SMALL.model_spec}" in message


def test_a_cached_copy_or_an_answering_url_passes(empty_hub_cache):
    url = f"http://127.0.0.1:{_closed_port()}/google/bit/m-r50x1/1"
    cached = empty_hub_cache / hashlib.sha1(url.encode()).hexdigest()  # tensorflow_hub's layout
    cached.mkdir(parents=True)
    (cached / "saved_model.pb").write_bytes(b"")
    assert spec.preflight(f"hub:{url}").location == url
    with _server(_Answers) as base:
        assert spec.preflight(f"hub:{base}/google/bit/m-r50x1/1").kind == "hub"
        with pytest.raises(ConfigError, match="HTTP 404"):
            spec.preflight(f"hub:{base}/nothing/here/1")


def test_a_url_that_never_answers_does_not_hang_the_check(empty_hub_cache):
    with _server(_Silent) as base:
        started = time.monotonic()
        with pytest.raises(ConfigError, match="cannot load TF Hub module"):
            spec.preflight(f"hub:{base}/google/bit/m-r50x1/1", timeout=1)
        assert time.monotonic() - started < 3


def test_local_copies_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder holding saved_model.pb"):
        spec.preflight(f"hub:{tmp_path / 'no_such_module'}")
    with pytest.raises(ConfigError, match="is not an .npz file"):
        spec.preflight(f"npz:tiny:{tmp_path / 'missing.npz'}")
    (tmp_path / "module").mkdir()
    (tmp_path / "module" / "saved_model.pb").write_bytes(b"")
    spec.preflight(f"hub:{tmp_path / 'module'}")
    spec.preflight(backbones.FRACTAL_SMALL.model_spec)  # the shipped backbone
    spec.preflight("random:tiny")
    spec.preflight("hub:gs://bucket/module")  # left to the Trainer (no credentials here)


def test_run_with_an_unreachable_model_stops_before_any_step(tmp_path, empty_hub_cache, capsys):
    runs.colour_images(str(tmp_path / "images"), per_class=2, seed=3)
    url = f"http://127.0.0.1:{_closed_port()}/google/bit/m-r50x1/1"
    code, _, err = runs.cli_in_process(["run", "--data", str(tmp_path / "images"), "--output",
                                        str(tmp_path / "out"), "--model", f"hub:{url}"], capsys)
    assert code == 2, err
    assert f"bit-tfx: configuration error: --model 'hub:{url}': cannot load TF Hub module" in err, err
    assert "[1/" not in err and not os.path.exists(tmp_path / "out" / "metadata.sqlite")


def test_a_published_npz_offline_names_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(spec, "NPZ_BASE_URL", f"http://127.0.0.1:{_closed_port()}/bit_models/")
    with pytest.raises(ConfigError, match=r"cannot download .*BiT-M-R50x1.npz.*~/.keras/bit_models/NAME.npz"):
        spec.preflight("BiT-M-R50x1")
    (tmp_path / "keras" / "bit_models").mkdir(parents=True)
    (tmp_path / "keras" / "bit_models" / "BiT-M-R50x1.npz").write_bytes(b"")
    assert spec.preflight("BiT-M-R50x1").published == "BiT-M-R50x1"

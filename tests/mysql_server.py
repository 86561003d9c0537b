"""A throwaway MySQL-compatible server (Debian's mariadb-server) on loopback, for tests that
run the pipeline against a shared ML Metadata store: a temporary --datadir initialised by
mariadb-install-db, its own --socket, a free --port on 127.0.0.1, one database and one user
with a password. Missing binaries skip the test with the reason, unless
BIT_TFX_REQUIRE_MYSQL=1 (CI, which installs mariadb-server): then the test fails."""
import contextlib
import os
import shutil
import socket
import subprocess
import time

import pytest

REQUIRE = "BIT_TFX_REQUIRE_MYSQL"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
DATABASE, USER, PASSWORD = "bit_mlmd", "bit", "s3cret-pw"
START_TIMEOUT_S = 60


def _which(*names):
    return next((p for p in (shutil.which(n, path=SEARCH_PATH) for n in names) if p), None)


def _free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(reason):
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1: install mariadb-server (apt-get install -y mariadb-server)")
    pytest.skip(f"{reason}: install mariadb-server (apt-get install -y mariadb-server) to run it")


@contextlib.contextmanager
def server(root):
    """Yields mysql://bit:PASSWORD@127.0.0.1:PORT/bit_mlmd of a running server under `root`."""
    server_bin = _which("mariadbd", "mysqld")
    install_db = _which("mariadb-install-db", "mysql_install_db")
    client = _which("mariadb", "mysql")
    if not (server_bin and install_db and client):
        _missing("no MySQL-compatible server here (mariadbd / mariadb-install-db / mariadb not found)")
    datadir, sock, log = (os.path.join(root, n) for n in ("data", "mysqld.sock", "mysqld.log"))
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    done = subprocess.run([install_db, "--no-defaults", f"--datadir={datadir}", *as_root,
                           "--auth-root-authentication-method=normal", "--skip-test-db"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"mariadb-install-db failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    port = _free_port()
    process = subprocess.Popen(
        [server_bin, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--pid-file={os.path.join(root, 'mysqld.pid')}",
         f"--log-error={log}", "--innodb-buffer-pool-size=32M", "--skip-name-resolve", *as_root],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sql = (f"CREATE DATABASE {DATABASE}; CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY "
               f"'{PASSWORD}'; GRANT ALL ON {DATABASE}.* TO '{USER}'@'127.0.0.1'; FLUSH PRIVILEGES;")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            done = subprocess.run([client, "--no-defaults", f"--socket={sock}", "-uroot", "-e", sql],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                with open(log, errors="replace") as f:
                    raise AssertionError(f"the MySQL server did not start: {done.stderr}\n{f.read()[-3000:]}")
            time.sleep(0.5)
        yield f"mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

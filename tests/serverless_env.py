"""The environment a gateway runs a function in, for the tests: a separate virtualenv with
qiskit-serverless 0.37 and a packed function's ``dependencies``, made once per dependency list.

It lives in the user cache (``~/.cache/qrt_runner/serverless-venv-<key>``, ``QRT_SERVERLESS_VENV_CACHE``
moves it), keyed by Python's version and the requirement list, so that CI pays for it once: made
fresh with pip it takes about a minute here (61 s, 636 MB; most of it downloads), and seconds after.
It is built beside its final place and renamed, under a lock, so that parallel test processes
neither see half an environment nor build it twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

#: The client version the gateway's nodes run (qrt_runner's serverless extra: >=0.37,<0.38).
SERVERLESS_REQUIREMENT = "qiskit-serverless==0.37.0"
INSTALL_TIMEOUT_S = 900
#: What pip says when no index it may use has the packages (offline, or a mirror without them).
UNREACHABLE = (
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
)


class EnvironmentUnavailable(RuntimeError):
    """The environment cannot be made here: the tests that need it are skipped, saying why."""


def cache_root() -> Path:
    return Path(os.environ.get("QRT_SERVERLESS_VENV_CACHE") or Path.home() / ".cache" / "qrt_runner")


def serverless_python(dependencies: list[str]) -> tuple[Path, float]:
    """The Python of the environment for ``dependencies``, and the seconds spent making it now
    (0 when it was there). Raises EnvironmentUnavailable when no package index has them."""
    requirements = sorted({SERVERLESS_REQUIREMENT, *dependencies})
    key = hashlib.sha256("\n".join([sys.version.split()[0], *requirements]).encode()).hexdigest()[:12]
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"serverless-venv-{key}"
    python = venv / "bin" / "python"
    with open(root / f"serverless-venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.is_file():
            return python, 0.0
        started = time.monotonic()
        building = root / f"serverless-venv-{key}.building"
        shutil.rmtree(building, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=120)
        install = [
            str(building / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "--disable-pip-version-check",
        ]
        proc = subprocess.run([*install, *requirements], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        if proc.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            unreachable = [line for line in proc.stderr.splitlines() if any(s in line for s in UNREACHABLE)]
            if unreachable:
                raise EnvironmentUnavailable(
                    f"cannot make the serverless environment ({venv}): no package index answers with "
                    f"{' '.join(requirements)} ({unreachable[0].strip()[:200]})"
                )
            raise RuntimeError(f"pip could not make the serverless environment: {proc.stderr[-2000:]}")
        building.rename(venv)  # (its bin/ scripts keep the old path in their #! line: use python -m)
        return python, time.monotonic() - started


def client_command(python: Path) -> list[str]:
    """``qrt-run`` run by ``python`` (the serverless environment), with this environment's
    packages after its own: qiskit-serverless, its qiskit-ibm-runtime 0.50 and cloudpickle 3.1.2
    win, and qrt_runner (this checkout) and MLflow come from here, as in an environment made with
    pip install 'qrt_runner[serverless]' (which resolves to the same versions)."""
    site = sysconfig.get_paths()["purelib"]
    boot = f"import site, sys; site.addsitedir({site!r}); from qrt_runner.cli import main; main(sys.argv[1:])"
    return [str(python), "-c", boot]

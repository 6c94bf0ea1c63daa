"""Build hooks: find the packages, and bake qrt_runner's own source commit into the built package.

Everything else is configured in pyproject.toml. The packages are found, not listed: every
package under ``qrt_runner/``, and the config tree ``conf/`` and ``experiments/`` installed as
``qrt_runner.conf`` and ``qrt_runner.experiments`` (pyproject's package-dir), so a new config
group or module is picked up without editing a list. A wheel or a non-editable install carries
``qrt_runner/_build_info.json`` (``{"commit", "dirty"}``), which runs record as
``qrt_runner_commit`` when the package no longer lives in its git work tree.
"""

import json
import subprocess
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


class BuildPyWithCommit(build_py):
    """``build_py``, then ``qrt_runner/_build_info.json`` with the commit being built."""

    def run(self) -> None:
        super().run()
        commit = _git("rev-parse", "--verify", "HEAD") or None
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no")) if commit else False
        target = Path(self.build_lib) / "qrt_runner" / "_build_info.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"commit": commit, "dirty": dirty}))


def _packages() -> list[str]:
    """``qrt_runner`` and its subpackages, then the YAML folders under ``conf/`` and ``experiments/``."""
    code = find_packages(include=["qrt_runner", "qrt_runner.*"])
    data = find_namespace_packages(include=["conf", "conf.*", "experiments"], exclude=["*__pycache__*"])
    return code + [f"qrt_runner.{name}" for name in data]


setup(packages=_packages(), cmdclass={"build_py": BuildPyWithCommit})

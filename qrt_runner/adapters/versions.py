"""The installed version of a package against the range an adapter was checked with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qrt_runner.errors import QrtError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PYTHON", "UnsupportedVersion", "check_versions", "installed_version"]

PYTHON = "python"  # the interpreter, in ``SUPPORTED`` (its range is pyproject's ``requires-python``)


class UnsupportedVersion(QrtError, RuntimeError):
    """An installed package outside the range an adapter was checked against."""

    def __init__(self, adapter: str, package: str, installed: str | None, supported: str):
        self.adapter, self.package, self.installed, self.supported = adapter, package, installed, supported
        found = f"{package} {installed} is installed" if installed is not None else f"{package} is not installed"
        if package == PYTHON:
            found, fix = f"this is Python {installed}", f"run qrt_runner with a Python {supported}"
        else:
            fix = f"install a version in that range (pip install '{package}{supported}')"
        super().__init__(
            f"{adapter} was checked against {package}{supported}, but {found}: {fix}, or check {adapter} "
            f"against {installed or 'it'} and widen its SUPPORTED and pyproject.toml together"
        )


def installed_version(package: str) -> str | None:
    """The installed version of a distribution package (``python``: the interpreter's); None if absent."""
    import platform
    from importlib import metadata

    if package == PYTHON:
        return platform.python_version()
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_versions(adapter: str, supported: Mapping[str, str]) -> None:
    """Raise :class:`UnsupportedVersion` for the first package of ``supported`` whose installed
    version is outside its range (a pre-release inside the range is supported)."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    for package, spec in supported.items():
        installed = installed_version(package)
        try:
            ok = installed is not None and SpecifierSet(spec).contains(Version(installed), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            raise UnsupportedVersion(adapter, package, installed, spec)

"""stevedore's list of a namespace's entry points, which decides what Qiskit's plugin managers load.

Qiskit finds its transpiler plugins with stevedore: every pass manager it builds creates
``stevedore.ExtensionManager`` objects that import and instantiate every installed plugin of a
namespace (``qiskit.transpiler.translation``, ``qiskit.synthesis``, ...), whether or not the pass
manager selects it. stevedore keeps the entry points it listed for a namespace in the class
attribute ``ExtensionManager.ENTRY_POINT_CACHE`` (undocumented, no leading underscore) and reads
them from there on the next listing; there is no public way to narrow what a namespace offers.
Checked against stevedore 5.10 (``list_entry_points`` fills and reads that dict since 5.0); held
below 6 (pyproject.toml).

stevedore is imported only inside the function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points

from qrt_runner.adapters.versions import check_versions

__all__ = ["SUPPORTED", "check_supported", "limit_entry_points"]

SUPPORTED = {"stevedore": ">=5,<6"}


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` outside ``SUPPORTED``."""
    check_versions(__name__, SUPPORTED)


def limit_entry_points(
    namespace: str, keep: Callable[[EntryPoint], bool], points: Iterable[EntryPoint] | None = None
) -> bool:
    """Have stevedore offer, in this process, only the entry points of ``namespace`` that ``keep``
    accepts (of ``points``, else of the installed ones). Nothing changes (False) where stevedore
    has listed the namespace already: a plugin manager built before keeps what it loaded, and
    later ones load the same."""
    from stevedore import ExtensionManager

    listed = ExtensionManager.ENTRY_POINT_CACHE
    if namespace in listed:
        return False
    found = entry_points(group=namespace) if points is None else points
    listed[namespace] = [point for point in found if point.group == namespace and keep(point)]
    return True

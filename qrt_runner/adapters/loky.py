"""The loky that joblib vendors (``joblib.externals.loky``): its start method and reusable executor.

joblib documents no way to choose how its loky workers start, nor to reach the process pool it
keeps between calls; both are loky's internals, which joblib updates with its releases. Checked
against joblib 1.3.0 (loky 3.4.0) and 1.5.3 (loky 3.5.6): tests/test_adapters.py passes with both,
so joblib is held to ``>=1.3,<1.6`` (pyproject.toml).

joblib is imported only inside the functions, when called.
"""

from __future__ import annotations

import sys
from typing import Any

from qrt_runner.adapters.versions import check_versions

__all__ = ["SUPPORTED", "check_supported", "running_reusable_executor", "set_start_method", "start_method"]

SUPPORTED = {"joblib": ">=1.3,<1.6"}

_REUSABLE_EXECUTOR_MODULE = "joblib.externals.loky.reusable_executor"


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless the installed joblib
    is in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def start_method() -> str | None:
    """The start method set for loky's workers in this process (None: loky's default), through
    ``joblib.externals.loky.backend.context.get_start_method``. Public: none in joblib."""
    from joblib.externals.loky.backend import context

    return context.get_start_method()


def set_start_method(method: str) -> None:
    """Have loky start its workers with ``method`` (``"forkserver"``, ...) for the rest of the
    process, through ``joblib.externals.loky.backend.context.set_start_method`` (which refuses to
    change one already set). Public: none in joblib."""
    from joblib.externals.loky.backend import context

    context.set_start_method(method)


def running_reusable_executor() -> Any:
    """The process pool joblib's loky backend keeps between calls, if this process has one (None
    otherwise; nothing is imported or started), through the private module global
    ``joblib.externals.loky.reusable_executor._executor``. Public: none
    (``get_reusable_executor()`` starts one when there is none)."""
    module = sys.modules.get(_REUSABLE_EXECUTOR_MODULE)
    return getattr(module, "_executor", None) if module is not None else None

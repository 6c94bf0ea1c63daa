"""The ``Unset`` of qiskit-ibm-runtime's options, from its undocumented module ``options.utils``.

IBM's API reference shows ``Unset`` as the default, and ``UnsetType`` in the type, of most
options fields, but documents no place to import them from. Checked against qiskit-ibm-runtime
0.40.0 and 0.51.0 (tests/test_adapters.py passes with both); held below 0.52
(pyproject.toml), since qrt_runner's options fail to import where the module moves.

qiskit-ibm-runtime is imported only by :func:`unset`, when called.
"""

from __future__ import annotations

import sys
from typing import Any

from qrt_runner.adapters.versions import check_versions

__all__ = ["SUPPORTED", "check_supported", "is_unset", "unset"]

SUPPORTED = {"qiskit-ibm-runtime": ">=0.40,<0.52"}

_UTILS = "qiskit_ibm_runtime.options.utils"


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless the installed
    qiskit-ibm-runtime is in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def unset() -> Any:
    """IBM's ``Unset`` (an option left to the service's default), from
    ``qiskit_ibm_runtime.options.utils``. Public: none (no documented import path)."""
    from qiskit_ibm_runtime.options.utils import Unset

    return Unset


def is_unset(value: Any) -> bool:
    """Whether ``value`` is IBM's ``Unset`` (an instance of ``qiskit_ibm_runtime.options.utils.
    UnsetType``), importing nothing: there is no ``Unset`` before that module is imported (a caller
    that avoids importing qiskit-ibm-runtime stays without it). Public: none (no documented import
    path)."""
    module = sys.modules.get(_UTILS)
    return module is not None and isinstance(value, module.UnsetType)

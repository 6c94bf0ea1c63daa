"""qiskit-ibm-runtime's undocumented modules: ``Unset`` (``options.utils``) and the client-side
primitives' option finalization (``executor_estimator.finalize_options``, ``executor_sampler.
finalize_options``).

IBM's API reference shows ``Unset`` as the default, and ``UnsetType`` in the type, of most
options fields, but documents no place to import them from. The finalization functions stand for
the public ``Estimator.finalize_options()`` / ``Sampler.finalize_options()`` of the client-side
primitives, which need a backend to build. Checked against qiskit-ibm-runtime 0.51.0; held at
0.50 or newer, where the client-side primitives (``options_models``, ``executor_estimator``,
``executor_sampler``) arrived, and below 0.52 (pyproject.toml), since qrt_runner's options fail to
import where the modules move.

qiskit-ibm-runtime is imported only by the functions, when called.
"""

from __future__ import annotations

import sys
from typing import Any

from qrt_runner.adapters.versions import check_versions

__all__ = [
    "SUPPORTED",
    "check_supported",
    "finalize_estimator_options",
    "finalize_sampler_options",
    "is_unset",
    "unset",
]

SUPPORTED = {"qiskit-ibm-runtime": ">=0.50,<0.52"}

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


def finalize_estimator_options(options: Any) -> Any:
    """A finalized copy of client-side ``EstimatorOptions``: the resilience level's defaults filled in,
    measurement twirling forced by TREX, gate and measurement twirling by PEC and PEA (IBM's warning
    when they were set False), from ``qiskit_ibm_runtime.executor_estimator.finalize_options``.
    Public: ``qiskit_ibm_runtime.executor_estimator.Estimator.finalize_options()``."""
    from qiskit_ibm_runtime.executor_estimator.finalize_options import finalize_estimator_options as finalize

    return finalize(options)


def finalize_sampler_options(options: Any) -> Any:
    """A finalized copy of client-side ``SamplerOptions`` (twirling left None is off), from
    ``qiskit_ibm_runtime.executor_sampler.finalize_options``. Public:
    ``qiskit_ibm_runtime.executor_sampler.Sampler.finalize_options()``."""
    from qiskit_ibm_runtime.executor_sampler.finalize_options import finalize_sampler_options as finalize

    return finalize(options)

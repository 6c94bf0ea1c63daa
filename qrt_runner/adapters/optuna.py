"""Optuna's wording of the error of a study without a completed trial.

``Study.best_trial`` raises a plain ``ValueError`` ("No trials are completed yet.") for a study
none of whose trials completed; the Optuna sweeper lets it out at the end of a sweep. Checked
against optuna 2.10.0 and 2.10.1 (tests/test_adapters.py passes with both), the versions
hydra-optuna-sweeper 1.2 and 1.3 take (``>=2.10,<3``, also stated in pyproject.toml). Where the
wording changes, the error goes out as a traceback instead of qrt-run's one line.

Optuna is not imported by this module.
"""

from __future__ import annotations

from qrt_runner.adapters.versions import check_versions

__all__ = ["SUPPORTED", "check_supported", "is_no_completed_trial_error"]

SUPPORTED = {"optuna": ">=2.10,<3"}


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless the installed Optuna
    is in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def is_no_completed_trial_error(error: BaseException) -> bool:
    """Whether ``error`` is Optuna's ``ValueError`` for a study without a completed trial, told by
    its undocumented wording. Public: none (Optuna raises no dedicated exception type; checking
    ``study.trials`` for a COMPLETE one first needs the study, which the sweeper keeps)."""
    return isinstance(error, ValueError) and "No trials are completed" in str(error)

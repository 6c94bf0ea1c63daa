"""The one number a run returns to an optimising sweeper (``objective=...``).

Grammar (``OBS`` is an observable's label or index, ``SET`` a flattened parameter-set index):

=========================================  ======================================  ============
objective                                  value                                   tasks
=========================================  ======================================  ============
``auto`` (default)                         the task's own (below)                  all
``ev[:OBS[:SET]]``, ``std[:OBS[:SET]]``    expectation value, standard error       evaluate, scan
``error[:OBS[:SET]]``                      value - exact (ideal statevector)       evaluate, scan
``abs_error[:OBS[:SET]]``                  abs(value - exact)                      evaluate, scan
``hellinger_fidelity[:SET]``               to the ideal distribution (mean, or     evaluate
``hellinger_fidelity_mitigated[:SET]``     one set); the latter readout-mitigated  (sampler)
``best_energy``, ``final_energy``,         of the optimisation                     vqe, qaoa
``error_to_exact``
``approximation_ratio``, ``best_cut``,     of the final sampling                   qaoa
``expected_cut``
``scan_minimum``                           lowest value of the first observable    scan
``time_total_s``, ``usage_s``              wall time, summed job time              all
=========================================  ======================================  ============

``auto`` is ``ev:0:0`` (evaluate, estimator), ``hellinger_fidelity`` (evaluate, sampler),
``scan_minimum`` (scan), ``best_energy`` (vqe) and ``approximation_ratio`` (qaoa).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qrt_runner.errors import ConfigError

if TYPE_CHECKING:
    from qrt_runner.records.results import RunResult

__all__ = ["Objective", "parse_objective"]

KEY = "objective"
_PER_OBSERVABLE = ("ev", "std", "error", "abs_error")
_FIDELITIES = ("hellinger_fidelity", "hellinger_fidelity_mitigated")
_OPTIMIZATION = {
    "best_energy": ("vqe", "qaoa"),
    "final_energy": ("vqe", "qaoa"),
    "error_to_exact": ("vqe", "qaoa"),
    "approximation_ratio": ("qaoa",),
    "best_cut": ("qaoa",),
    "expected_cut": ("qaoa",),
}
_MAXIMISED = {"hellinger_fidelity", "hellinger_fidelity_mitigated", "approximation_ratio", "best_cut", "expected_cut"}
_MAX_EXACT_QUBITS = 14


@dataclass(frozen=True)
class Objective:
    """A parsed objective: ``name``, and for per-observable names the observable and set."""

    text: str
    name: str
    observable: int | str = 0
    parameter_set: int | None = None

    @property
    def maximise(self) -> bool:
        """Whether larger is better (fidelities, cut values); smaller otherwise."""
        return self.name in _MAXIMISED

    def check(self, task: str, primitive: str, labels: list[str], num_sets: int, num_qubits: int) -> Objective:
        """Refuse an objective the run cannot produce; returns it with the observable as an index.

        Raises:
            ConfigError: naming ``objective`` and what to choose instead.
        """
        name = self.name
        if name in _PER_OBSERVABLE:
            if task not in ("evaluate", "scan") or primitive != "estimator":
                raise self._error(
                    f"{name} needs an estimator run (task=evaluate or scan), not task={task} with {primitive}"
                )
            index = self._observable_index(labels)
            if self.parameter_set is not None and not 0 <= self.parameter_set < num_sets:
                raise self._error(
                    f"the run has {num_sets} parameter set(s)", f"give a set index from 0 to {num_sets - 1}"
                )
            if name in ("error", "abs_error") and num_qubits > _MAX_EXACT_QUBITS:
                raise self._error(
                    f"{name} needs the exact value, computed up to {_MAX_EXACT_QUBITS} qubits; the circuit has {num_qubits}"
                )
            return Objective(self.text, name, index, self.parameter_set)
        if name in _FIDELITIES:
            if task != "evaluate" or primitive != "sampler":
                raise self._error(f"{name} needs a sampler run (task=evaluate), not task={task} with {primitive}")
            if self.parameter_set is not None and not 0 <= self.parameter_set < num_sets:
                raise self._error(
                    f"the run has {num_sets} parameter set(s)", f"give a set index from 0 to {num_sets - 1}"
                )
            return self
        if name in _OPTIMIZATION and task not in _OPTIMIZATION[name]:
            raise self._error(f"{name} is produced by task={' or task='.join(_OPTIMIZATION[name])}, not task={task}")
        if name == "scan_minimum" and task != "scan":
            raise self._error(f"scan_minimum is produced by task=scan, not task={task}")
        return self

    def value(self, result: RunResult, exact: Any = None) -> float:
        """The objective of a finished run (NaN when the run did not produce it)."""
        import numpy as np

        name = self.name
        if name in _PER_OBSERVABLE:
            est = result.estimator
            if est is None:
                return math.nan
            n_obs = len(est.observable_labels)
            row = self.parameter_set or 0
            assert isinstance(self.observable, int)  # check() has turned a label into its index
            source = est.stds if name == "std" else est.evs
            value = float(np.asarray(source, dtype=float).reshape(-1, n_obs)[row, self.observable])
            if name in ("error", "abs_error"):
                value -= float(exact if exact is not None else math.nan)
                return abs(value) if name == "abs_error" else value
            return value
        if name in _FIDELITIES:
            values = getattr(result.sampler, name, None) if result.sampler is not None else None
            if not values:
                return math.nan
            chosen = [values[self.parameter_set]] if self.parameter_set is not None else values
            finite = [float(v) for v in chosen if v is not None]
            return float(np.mean(finite)) if finite else math.nan
        if name in _OPTIMIZATION:
            return _number((result.optimization or {}).get(name))
        if name == "scan_minimum":
            return _number((result.scan or {}).get("minimum"))
        if name == "usage_s":
            return float(sum(job.usage_s for job in result.jobs))
        return _number(result.timings.get(name))

    def exact(self, circuit, observables: list, values) -> float | None:
        """The ideal (statevector) value an ``error``/``abs_error`` objective compares with."""
        if self.name not in ("error", "abs_error"):
            return None
        import numpy as np
        from qiskit.quantum_info import Statevector

        flat = np.asarray(values, dtype=float).reshape(-1, circuit.num_parameters) if circuit.num_parameters else None
        bound = circuit.remove_final_measurements(inplace=False)
        if flat is not None and flat.size:
            bound = bound.assign_parameters(flat[self.parameter_set or 0])
        assert isinstance(self.observable, int)  # check() has turned a label into its index
        return float(np.real(Statevector(bound).expectation_value(observables[self.observable][1])))

    def _observable_index(self, labels: list[str]) -> int:
        if isinstance(self.observable, int):
            if not 0 <= self.observable < len(labels):
                raise self._error(
                    f"the run has {len(labels)} observable(s)",
                    f"give an index from 0 to {len(labels) - 1} or a label: {', '.join(labels)}",
                )
            return self.observable
        if self.observable not in labels:
            raise self._error(
                f"no observable is labelled {self.observable!r}", f"choose one of {', '.join(labels)} (or its index)"
            )
        return labels.index(self.observable)

    def _error(self, problem: str, fix: str | None = None) -> ConfigError:
        return ConfigError(
            KEY, self.text, problem, fix or "see the README's Sweeps section for the objectives each task produces"
        )


def parse_objective(text: Any, task: str, primitive: str) -> Objective:
    """Parse ``objective`` (``auto`` becomes the task's own).

    Raises:
        ConfigError: for a value that is not an objective name.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            KEY,
            text,
            "must be the name of what the run returns",
            "e.g. objective=ev:ZZ, objective=best_energy or objective=auto",
        )
    text = text.strip()
    if text == "auto":
        return _default(task, primitive)
    name, _, rest = text.partition(":")
    known = (*_PER_OBSERVABLE, *_FIDELITIES, *_OPTIMIZATION, "scan_minimum", "time_total_s", "usage_s")
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(KEY, text, "unknown objective", f"{hint}choose one of auto, {', '.join(known)}")
    parts = rest.split(":") if rest else []
    if name in _PER_OBSERVABLE and len(parts) <= 2:
        observable: int | str = _index_or_label(parts[0]) if parts and parts[0] else 0
        return Objective(text, name, observable, _set_index(text, parts[1]) if len(parts) > 1 else None)
    if name in _FIDELITIES and len(parts) <= 1:
        return Objective(text, name, 0, _set_index(text, parts[0]) if parts else None)
    if not parts:
        return Objective(text, name)
    raise ConfigError(
        KEY,
        text,
        f"{name} takes {'[:OBS[:SET]]' if name in _PER_OBSERVABLE else '[:SET]' if name in _FIDELITIES else 'no arguments'}",
        "write it as in objective=ev:ZZ:0 or objective=best_energy",
    )


def _default(task: str, primitive: str) -> Objective:
    name = {"vqe": "best_energy", "qaoa": "approximation_ratio", "scan": "scan_minimum"}.get(task)
    if name is None:
        name = "ev" if primitive == "estimator" else "hellinger_fidelity"
    return Objective("auto", name, 0, 0 if name == "ev" else None)


def _index_or_label(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _set_index(text: str, part: str) -> int:
    if not part.isdigit():
        raise ConfigError(
            KEY, text, f"the parameter-set index {part!r} is not a non-negative integer", "e.g. objective=ev:ZZ:0"
        )
    return int(part)


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan

"""What a job costs before it runs: circuits, bindings, shots and an estimated QPU time.

The work is read off the simulator tasks a primitive would submit (nothing runs), so the shots
counted here are the shots the local run spends. The QPU-time model, per job::

    JOB_OVERHEAD_S + sum over circuits of  bindings * (BINDING_OVERHEAD_S
                                                       + shots * (duration + rep_delay))

- ``duration``: the circuit's critical path on the device, from the target's gate, delay and
  measurement durations. Twirling slots (``u`` gates, which hardware merges into neighbouring
  single-qubit gates) count one ``sx``; PEC/PEA's injected Pauli channels and PEC's sign qubit
  (classical bookkeeping on hardware) count nothing. A circuit continued from a shared prefix
  (the simulator's shortcut) counts the prefix too: hardware runs the whole circuit every shot.
- ``rep_delay``: the device's ``default_rep_delay`` (IBM devices: 250 us), else 250 us.
- ``BINDING_OVERHEAD_S`` (loading one parameter binding into the control electronics) and
  ``JOB_OVERHEAD_S`` (compiling and loading the job's payload) are rough figures: the model is
  meant for orders of magnitude, and every run records it next to the measured usage so it can
  be checked against measurements.

The local system time limit of a job (:func:`system_limit`) derives from it with a wide margin:
local simulation runs at a speed unrelated to a QPU's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JOB_OVERHEAD_S = 3.0
BINDING_OVERHEAD_S = 2e-3
DEFAULT_REP_DELAY_S = 250e-6
#: The local system limit: ``SYSTEM_LIMIT_MARGIN`` times the estimated QPU time, at least
#: ``SYSTEM_LIMIT_FLOOR_S`` and at most the service's three hours.
SYSTEM_LIMIT_MARGIN = 100.0
SYSTEM_LIMIT_FLOOR_S = 3600.0
SYSTEM_LIMIT_CAP_S = 10800.0

_FREE = {"barrier", "quantum_channel", "kraus", "pauli_lindblad_error", "qerror", "superop", "save_expval"}


@dataclass
class CircuitCost:
    """One circuit of a job: its role, bindings (parameter rows), shots per binding and duration."""

    role: str
    bindings: int
    shots_per_binding: int
    duration_s: float | None

    @property
    def shots(self) -> int:
        return self.bindings * self.shots_per_binding


@dataclass
class JobCost:
    """The work of one job and its estimated QPU seconds (None without a device)."""

    circuits: list[CircuitCost] = field(default_factory=list)
    rep_delay_s: float | None = None

    @property
    def shots(self) -> int:
        return sum(c.shots for c in self.circuits)

    @property
    def bindings(self) -> int:
        return sum(c.bindings for c in self.circuits)

    @property
    def qpu_s(self) -> float | None:
        if self.rep_delay_s is None or any(c.duration_s is None for c in self.circuits):
            return None
        per_circuit = (
            c.bindings * (BINDING_OVERHEAD_S + c.shots_per_binding * (duration_s + self.rep_delay_s))
            for c in self.circuits
            if c.shots and (duration_s := c.duration_s) is not None  # never None here: checked above
        )
        return JOB_OVERHEAD_S + sum(per_circuit)

    def by_technique(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.circuits:
            entry = out.setdefault(c.role, {"circuits": 0, "bindings": 0, "shots": 0})
            entry["circuits"] += 1
            entry["bindings"] += c.bindings
            entry["shots"] += c.shots
        return out

    def record(self) -> dict[str, Any]:
        """What a job's record keeps of its estimate (next to the measured usage)."""
        return {
            "circuits": len(self.circuits),
            "bindings": self.bindings,
            "shots": self.shots,
            "qpu_s": self.qpu_s,
            "by_technique": self.by_technique(),
        }


def system_limit(qpu_s: float | None) -> float:
    """The local system time limit of a job estimated at ``qpu_s`` QPU seconds."""
    if qpu_s is None:
        return SYSTEM_LIMIT_CAP_S
    return min(SYSTEM_LIMIT_CAP_S, max(SYSTEM_LIMIT_FLOOR_S, SYSTEM_LIMIT_MARGIN * qpu_s))


def rep_delay(device: Any) -> float | None:
    """The device's repetition delay in seconds (None for the ideal simulator)."""
    if device is None:
        return None
    value = getattr(device, "default_rep_delay", None)
    return float(value) if value else DEFAULT_REP_DELAY_S


def task_cost(task: Any, device: Any, roles: list[str] | None = None) -> JobCost:
    """The circuits, bindings and shots of a :class:`~qrt_runner.execution.simulation.task.SimTask`, with
    durations on ``device`` (None: the ideal simulator, no durations)."""
    cost = JobCost(rep_delay_s=rep_delay(device))
    target = device.target if device is not None else None
    prefix_of = task.prefix_of or [None] * len(task.circuits)
    prefixes = {p for p in prefix_of if p is not None}
    shots = task.circuit_shots or [task.shots] * len(task.circuits)
    for index, circuit in enumerate(task.circuits):
        if index in prefixes:
            continue  # simulated once and continued from; its duration counts in every continuation
        values = task.parameter_values[index]
        rows = len(values) if values is not None and values.size else 1
        if prefix_of[index] is not None:
            prefix_values = task.parameter_values[prefix_of[index]]
            prefix_rows = len(prefix_values) if prefix_values is not None and prefix_values.size else 1
            rows = task.rows_per_set[index] * prefix_rows
        duration = None
        if target is not None:
            duration = circuit_duration(circuit, target, task.qubits)
            if prefix_of[index] is not None:
                duration += circuit_duration(task.circuits[prefix_of[index]], target, task.qubits)
        role = roles[index] if roles else "circuits"
        cost.circuits.append(CircuitCost(role, rows, 0 if task.kind == "expval" else shots[index], duration))
    return cost


def job_cost(tasks: list[Any], roles: list[list[str]] | None, device: Any) -> JobCost:
    """The cost of a job made of ``tasks`` (``roles``: per task, the technique of each circuit)."""
    cost = JobCost(rep_delay_s=rep_delay(device))
    for index, task in enumerate(tasks):
        cost.circuits += task_cost(task, device, roles[index] if roles else None).circuits
    return cost


def circuit_duration(circuit: Any, target: Any, physical_qubits: tuple[int, ...]) -> float:
    """The critical path of a compact circuit (qubit i is ``physical_qubits[i]``) in seconds."""
    ready = [0.0] * circuit.num_qubits
    for instruction in circuit.data:
        indices = [circuit.find_bit(q).index for q in instruction.qubits]
        if any(i >= len(physical_qubits) for i in indices):
            continue  # PEC's sign qubit: bookkeeping, not hardware
        taken = _duration(instruction.operation, tuple(physical_qubits[i] for i in indices), target)
        start = max((ready[i] for i in indices), default=0.0)
        for i in indices:
            ready[i] = start + taken
    return max(ready, default=0.0)


def _duration(operation: Any, qargs: tuple[int, ...], target: Any) -> float:
    name = operation.name
    if name == "delay":
        unit = getattr(operation, "unit", "dt")
        scale = {"dt": target.dt or 0.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}.get(unit, 0.0)
        return float(operation.duration or 0) * scale
    if name in _FREE or not qargs:
        return 0.0
    if name in target.operation_names:
        properties = target[name].get(qargs)
        if properties is not None and properties.duration is not None:
            return float(properties.duration)
    if len(qargs) == 1 and "sx" in target.operation_names:
        properties = target["sx"].get(qargs)
        return float(properties.duration or 0.0) if properties is not None else 0.0
    return 0.0

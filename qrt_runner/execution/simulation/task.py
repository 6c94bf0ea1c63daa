"""What the simulator process is asked to do, and how it does it (also usable in-process).

:func:`execute` groups a :class:`SimTask`'s circuits into Aer calls. The simulator, method,
options and seed of each call come from :mod:`.aer_simulator`; :mod:`.aer_experiments` writes
the circuits as Aer is to run them and reads its outcomes back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.execution.simulation.aer_experiments import (
    _counts_arrays,
    _memory_array,
    _one_experiment_per_row,
    _stabilizer_experiments,
)
from qrt_runner.execution.simulation.aer_simulator import _method_options, aer_seed, resolve_method, simulator


@dataclass
class SimTask:
    """One simulator request: circuits, each run for every row of its parameter array.

    Attributes:
        kind: ``counts`` (outcomes and their counts as two int64 arrays: cheap to send back),
            ``memory`` (per-shot outcomes as a packed ``BitArray`` byte array) or ``expval``
            (saved expectation values).
        device: fake device name whose noise is simulated, or None for the ideal simulator.
        qubits: device qubits the (compact) circuits stand for; the noise is restricted to them.
            A circuit may have more qubits than these (PEC's sign qubit): those are noiseless.
        shots: shots per parameter row.
        parameter_values: per circuit an array ``(num_sets, num_parameters)`` in
            ``circuit.parameters`` order, or None.
        circuit_keys: per circuit a content key; the simulator process keeps circuits by key,
            so a circuit it has seen arrives as None and is not pickled again.
        circuit_shots: per circuit its shots per row, where they differ from ``shots`` (the
            circuits of one shot count share one Aer call).
        prefix_of: per circuit, the index of the circuit whose final density matrix it starts
            from, or None. A circuit that others start from (a prefix: no measurements; one
            parameter row per set, or per set and randomisation) is simulated once per row and
            returns no rows itself; a circuit that starts from it has ``rows_per_set`` rows per
            row of the prefix. So the randomisations of a measurement twirl share the simulation
            of everything before it, and so do the measurement bases of one gate twirl.
        rows_per_set: per circuit with a prefix, its parameter rows per row of the prefix.
        call_groups: per circuit a group number; circuits of different groups never share an
            Aer call, so that one group's samples (and seeds) do not depend on the others' (a
            TREX calibration stays the same whatever circuits the job measures).
    """

    kind: str
    device: str | None
    qubits: tuple[int, ...]
    method: str
    threads: int
    seed: int
    shots: int
    circuits: list[QuantumCircuit | None]
    parameter_values: list[np.ndarray | None]
    circuit_keys: list[str] | None = None
    circuit_shots: list[int] | None = None
    prefix_of: list[int | None] | None = None
    rows_per_set: list[int] | None = None
    call_groups: list[int] | None = None
    noise: str = "device"


class SimOutput(list):
    """Per circuit of a task, its rows (one entry per parameter row), in ``seconds`` the
    simulator time each circuit took (its Aer call's wall time shared out in proportion to the
    time Aer reports per experiment), and in ``shots`` how many shots were sampled in all
    (counted in the returned outcomes; 0 for saved expectation values)."""

    def __init__(self, rows=(), seconds=(), kind: str = "counts"):
        super().__init__(rows)
        self.seconds = list(seconds)
        self.shots = sum(_shots_of(row, kind) for circuit_rows in self for row in (circuit_rows or ()))


def _shots_of(row: Any, kind: str) -> int:
    if kind == "counts":
        return int(row[1].sum())
    if kind == "memory":
        return int(row.shape[0])
    return 0


def _bind_at_runtime(task: SimTask, method: str, values: list) -> bool:
    """Whether Aer should bind parameters inside one experiment instead of one per binding.

    For noisy statevector trajectories over many bindings of few shots this cuts Aer's
    per-binding cost about 4-7 times (5 qubits: 0.9 ms instead of 3-6 ms per binding), with the
    same distributions.
    """
    return (
        task.device is not None
        and task.kind != "expval"
        and method in ("statevector", "automatic")
        and all(v is not None and v.size and len(v) > 1 for v in values)
    )


def execute(task: SimTask) -> tuple[SimOutput, float]:
    """Run a task; returns per circuit a list (one entry per parameter set) and the seconds it ran."""
    start = time.perf_counter()
    if not task.circuits:
        return SimOutput(), 0.0
    rows: list[Any] = [None] * len(task.circuits)
    seconds = [0.0] * len(task.circuits)
    circuits, values = list(task.circuits), list(task.parameter_values)
    prefix_of = task.prefix_of or [None] * len(circuits)
    prefixes = sorted({p for p in prefix_of if p is not None})
    if prefixes:
        states = _prefix_states(task, prefixes, rows, seconds)
        for index, prefix in enumerate(prefix_of):
            if prefix is not None:
                assert task.rows_per_set is not None  # given with every prefix_of
                circuits[index], values[index] = _continued(
                    circuits[index], values[index], states[prefix], task.rows_per_set[index]
                )
    shots = task.circuit_shots or [task.shots] * len(task.circuits)
    call_groups = task.call_groups or [0] * len(task.circuits)
    groups: dict[tuple[int, int, str], list[int]] = {}  # one Aer call per group, shot count and method
    for index, count in enumerate(shots):
        if index in prefixes:
            continue
        if prefix_of[index] is not None:
            method = "density_matrix"  # it starts from a density matrix
        elif task.kind == "expval":
            method = task.method
        else:
            circuit = task.circuits[index]
            assert circuit is not None  # a circuit sent as None was put back by the simulator process
            method = resolve_method(task.method, task.device is not None, circuit.num_qubits, count)
        groups.setdefault((call_groups[index], count, method), []).append(index)
    for (group, count, method), indices in groups.items():
        seed = aer_seed(task.seed, group, count, method)
        _run_group(task, circuits, values, indices, count, method, rows, seconds, seed)
    return SimOutput(rows, seconds, task.kind), time.perf_counter() - start


def _prefix_states(task: SimTask, prefixes: list[int], rows: list, seconds: list) -> dict[int, list]:
    """The final density matrix of every prefix, per parameter row (one Aer call)."""
    from qiskit_aer.library import SaveDensityMatrix

    started = time.perf_counter()
    sim = simulator(task.device, task.qubits, "density_matrix", task.threads, task.noise)
    circuits, binds = [], []
    for index in prefixes:
        prefix = task.circuits[index]
        assert prefix is not None  # a circuit sent as None was put back by the simulator process
        circuit, v = _one_experiment_per_row(prefix.copy(), task.parameter_values[index])
        circuit.append(SaveDensityMatrix(circuit.num_qubits), circuit.qubits)
        circuits.append(circuit)
        binds.append(
            {param: v[:, i].tolist() for i, param in enumerate(circuit.parameters)} if v is not None and v.size else {}
        )
    any_binds = any(binds)
    result = sim.run(
        circuits,
        parameter_binds=binds if any_binds else None,
        shots=1,
        seed_simulator=aer_seed(task.seed, "prefix"),
        **_method_options("density_matrix", circuits),
    ).result()
    if not result.success:
        raise RuntimeError(f"Aer simulation failed: {result.status}")
    states, position = {}, 0
    for index, bind in zip(prefixes, binds):
        count = len(next(iter(bind.values()))) if bind else 1
        states[index] = [result.data(e)["density_matrix"] for e in range(position, position + count)]
        rows[index] = []
        position += count
    wall = time.perf_counter() - started
    for index in prefixes:
        seconds[index] = wall / len(prefixes)
    return states


def _continued(suffix: QuantumCircuit, values: np.ndarray | None, states: list, per_set: int):
    """One circuit per prefix state: that state, then ``suffix``; with its rows split accordingly."""
    from qiskit_aer.library import SetDensityMatrix

    circuits = []
    for state in states:
        circuit = suffix.copy_empty_like()
        circuit.append(SetDensityMatrix(state), circuit.qubits)
        circuit.compose(suffix, inplace=True)
        circuits.append(circuit)
    split = [None if values is None else values[k * per_set : (k + 1) * per_set] for k in range(len(states))]
    return circuits, split


def _run_group(
    task: SimTask,
    all_circuits: list,
    all_values: list,
    indices: list[int],
    shots: int,
    method: str,
    rows: list,
    seconds: list,
    seed: int,
) -> None:
    """One Aer call for the circuits ``indices`` of ``task``, all at ``shots`` shots per row; a
    continued circuit is a list of circuits (one per prefix state) whose rows are concatenated."""
    started = time.perf_counter()
    circuits: list[QuantumCircuit] = []
    values: list[Any] = []  # per circuit its parameter rows, or None (a circuit without parameters)
    owner: list[int] = []
    for index in indices:
        continued = isinstance(all_circuits[index], list)
        parts = all_circuits[index] if continued else [all_circuits[index]]
        part_values = all_values[index] if continued else [all_values[index]]
        for part, part_rows in zip(parts, part_values):
            part, part_rows = _one_experiment_per_row(part, part_rows)
            circuits.append(part)
            values.append(part_rows)
        owner += [index] * len(parts)
    if method == "stabilizer":
        circuits, values, owner = _stabilizer_experiments(circuits, values, owner)
    width = max(circuit.num_qubits for circuit in circuits)
    sim = simulator(task.device, task.qubits, method, task.threads, task.noise)
    if method == "stabilizer" and _sampled_by_frames(task, circuits, sim, shots, seed, rows, owner, indices):
        wall = time.perf_counter() - started
        for index in indices:
            seconds[index] += wall / len(indices)
        return
    binds, options = None, dict(_method_options(method, circuits))
    if any(v is not None and v.size for v in values):
        binds = [
            {param: v[:, i].tolist() for i, param in enumerate(circuit.parameters)}
            for circuit, v in zip(circuits, values)
        ]
        if _bind_at_runtime(task, method, values):
            options["runtime_parameter_bind_enable"] = True
        elif task.threads != 1 and width <= 12 and sum(len(v) for v in values if v is not None) > 1:
            # many small bindings: one thread each, in parallel, beats threads fighting over one
            # small state (5-qubit density matrix, 2 cores: 1.6 s instead of 2.8-3.1 s)
            options["max_parallel_experiments"] = 0
    result = sim.run(
        circuits,
        parameter_binds=binds,
        shots=max(shots, 1),
        **options,
        seed_simulator=seed,
        memory=task.kind == "memory",
    ).result()
    if not result.success:
        raise RuntimeError(f"Aer simulation failed: {result.status}")
    experiment_times = [experiment.time_taken for experiment in result.results]
    position, reported = 0, {index: 0.0 for index in indices}
    for index in indices:
        rows[index] = []
    for index, circuit, v in zip(owner, circuits, values):
        count = 1 if binds is None else len(v)
        for experiment in range(position, position + count):
            data = result.data(experiment)
            if task.kind == "counts":
                rows[index].append(_counts_arrays(data["counts"]))
            elif task.kind == "memory":
                rows[index].append(_memory_array(data, circuit.num_clbits, max(shots, 1)))
            else:
                rows[index].append(
                    {key: float(np.real(value)) for key, value in data.items() if key not in ("counts", "memory")}
                )
        reported[index] += sum(experiment_times[position : position + count])
        position += count
    wall, total = time.perf_counter() - started, sum(reported.values())
    for index, taken in reported.items():
        seconds[index] += wall * (taken / total if total > 0 else 1 / len(indices))


def _sampled_by_frames(task, circuits, sim, shots: int, seed: int, rows: list, owner: list, indices: list) -> bool:
    """Sample noisy stabilizer experiments with Stim's Pauli frames (:mod:`.frames`) instead of
    Aer's shot-by-shot simulation: the same circuits, noise and outcome format. False (nothing
    done) when there is no noise, Stim is missing, or an experiment is not one it runs as Aer."""
    from qrt_runner.execution.simulation import frames

    noise_model = getattr(sim.options, "noise_model", None)
    if noise_model is None or task.kind not in ("counts", "memory") or not frames.available():
        return False
    programs = []
    for circuit in circuits:
        program = frames.stim_circuit(circuit, noise_model)
        if program is None:
            return False
        programs.append(program)
    for index in indices:
        rows[index] = []
    shots = max(shots, 1)
    for number, (index, circuit, (program, clbits)) in enumerate(zip(owner, circuits, programs)):
        memory = frames.sample_memory(program, clbits, circuit.num_clbits, shots, aer_seed(seed, "frames", number))
        pad = -circuit.num_clbits % 8  # BitArray's bytes: clbit 0 the last bit, padding first
        packed = np.packbits(np.pad(memory[:, ::-1], ((0, 0), (pad, 0))), axis=1, bitorder="big")
        if task.kind == "memory":
            rows[index].append(packed)
        else:
            values = [int.from_bytes(row.tobytes(), "big") for row in packed]
            outcomes, counts = np.unique(np.array(values, dtype=object), return_counts=True)
            rows[index].append((outcomes.astype(np.int64), counts.astype(np.int64)))
    return True

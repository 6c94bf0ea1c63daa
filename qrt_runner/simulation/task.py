"""What the simulator process is asked to do, and how it does it (also usable in-process)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BitArray


@dataclass
class SimTask:
    """One Aer call: circuits, each run for every row of its parameter array.

    Attributes:
        kind: ``counts`` (outcomes and their counts as two int64 arrays: cheap to send back),
            ``memory`` (per-shot outcomes as a packed ``BitArray`` byte array) or ``expval``
            (saved expectation values).
        device: fake device name whose noise is simulated, or None for the ideal simulator.
        qubits: device qubits the (compact) circuits stand for; the noise is restricted to them.
        parameter_values: per circuit an array ``(num_sets, num_parameters)`` in
            ``circuit.parameters`` order, or None.
        circuit_keys: per circuit a content key; the simulator process keeps circuits by key,
            so a circuit it has seen arrives as None and is not pickled again.
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


@lru_cache(maxsize=16)
def simulator(device: str | None, qubits: tuple[int, ...], method: str, threads: int):
    """One AerSimulator per (noise, method, threads), built once per process."""
    from qiskit_aer import AerSimulator

    options: dict[str, Any] = {"method": method, "max_parallel_threads": threads}
    if device is not None:
        from qrt_runner.fake_backends import fake_backend
        from qrt_runner.simulation.noise import restricted_noise_model

        noise_model = restricted_noise_model(fake_backend(device), qubits)
        # u carries the twirling Paulis, which hardware merges into neighbouring gates: no noise.
        gates = (set(noise_model.basis_gates) | {"u"}) - _NOT_GATES
        options.update(noise_model=noise_model, basis_gates=sorted(gates))
    return AerSimulator(**options)


_NOT_GATES = {"measure", "reset", "delay"}  # instructions every method runs, not basis gates


def resolve_method(method: str, noisy: bool, num_qubits: int, shots: int) -> str:
    """Aer's method, choosing the density matrix for small noisy circuits sampled few times.

    Aer's ``automatic`` simulates noisy circuits as statevector trajectories, one per shot, unless
    shots > 2**n. Twirled runs bind many randomisations of tens of shots each; there one
    density-matrix run per binding is several times cheaper (5 qubits, 32 shots: 5 ms against
    35). Below 8 shots per binding (PEC, PEA) trajectories bound at runtime are cheaper still.
    """
    if method == "automatic" and noisy and num_qubits <= 10 and shots >= 8 and 8 * shots >= 2**num_qubits:
        return "density_matrix"
    return method


def _bind_at_runtime(task: SimTask, method: str) -> bool:
    """Whether Aer should bind parameters inside one experiment instead of one per binding.

    For noisy statevector trajectories over many bindings of few shots (PEC and PEA draw a new
    set of Paulis for every shot) this cuts Aer's per-binding cost about 4-7 times (5 qubits:
    0.9 ms instead of 3-6 ms per binding), with the same distributions.
    """
    return (task.device is not None and task.kind != "expval" and method in ("statevector", "automatic")
            and all(values is not None and values.size and len(values) > 1 for values in task.parameter_values))


def execute(task: SimTask) -> tuple[list[list[Any]], float]:
    """Run a task; returns per circuit a list (one entry per parameter set) and the seconds it ran."""
    start = time.perf_counter()
    if not task.circuits:
        return [], 0.0
    width = max(circuit.num_qubits for circuit in task.circuits)
    method = resolve_method(task.method, task.device is not None, width, task.shots) if task.kind != "expval" else task.method
    sim = simulator(task.device, task.qubits, method, task.threads)
    binds, options = None, {}
    if any(values is not None and values.size for values in task.parameter_values):
        binds = [
            {param: values[:, i].tolist() for i, param in enumerate(circuit.parameters)}
            for circuit, values in zip(task.circuits, task.parameter_values)
        ]
        if _bind_at_runtime(task, method):
            options["runtime_parameter_bind_enable"] = True
        elif task.threads != 1 and width <= 12 and sum(len(values) for values in task.parameter_values if values is not None) > 1:
            # many small bindings: one thread each, in parallel, beats threads fighting over one
            # small state (5-qubit density matrix, 2 cores: 1.6 s instead of 2.8-3.1 s)
            options["max_parallel_experiments"] = 0
    result = sim.run(
        task.circuits,
        parameter_binds=binds,
        shots=max(task.shots, 1),
        **options,
        seed_simulator=task.seed,
        memory=task.kind == "memory",
    ).result()
    if not result.success:
        raise RuntimeError(f"Aer simulation failed: {result.status}")
    outputs: list[list[Any]] = []
    position = 0
    for circuit, values in zip(task.circuits, task.parameter_values):
        count = 1 if binds is None else len(values)
        rows = []
        for offset in range(count):
            experiment = position + offset
            if task.kind == "counts":
                rows.append(_counts_arrays(result.data(experiment)["counts"]))
            elif task.kind == "memory":
                rows.append(BitArray.from_samples(result.data(experiment)["memory"], circuit.num_clbits).array)
            else:
                rows.append({k: float(np.real(v)) for k, v in result.data(experiment).items() if k not in ("counts", "memory")})
        outputs.append(rows)
        position += count
    return outputs, time.perf_counter() - start


def _counts_arrays(counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Aer's hex-keyed counts as (outcomes, counts) int64 arrays."""
    size = len(counts)
    outcomes = np.fromiter((int(key, 16) for key in counts), dtype=np.int64, count=size)
    return outcomes, np.fromiter(counts.values(), dtype=np.int64, count=size)

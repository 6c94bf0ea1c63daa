"""The AerSimulator a task's circuits run on, the method and options of each Aer call, and its seed."""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Any

import numpy as np
from qiskit import QuantumCircuit


@lru_cache(maxsize=16)
def simulator(device: str | None, qubits: tuple[int, ...], method: str, threads: int, noise: str = "device"):
    """One AerSimulator per (noise, method, threads), built once per process: ``device``'s noise
    on ``qubits`` in full (``noise="device"``) or in Pauli form (``"pauli"``); ideal for None."""
    from qiskit_aer import AerSimulator

    options: dict[str, Any] = {"method": method, "max_parallel_threads": threads}
    if device is not None:
        from qrt_runner.execution.devices import device as fake_device
        from qrt_runner.execution.simulation.noise import restricted_noise_model

        if noise == "pauli":
            from qrt_runner.execution.simulation.pauli_noise import pauli_noise_model

            noise_model = pauli_noise_model(fake_device(device), qubits)
        else:
            noise_model = restricted_noise_model(fake_device(device), qubits, kraus=method == "density_matrix")
        # u carries the twirling Paulis, which hardware merges into neighbouring gates: no noise.
        # (the stabilizer method gets them as named Paulis: simulation.clifford.stabilizer_form)
        gates = (set(noise_model.basis_gates) | ({"u"} if method != "stabilizer" else set())) - _NOT_GATES
        options.update(noise_model=noise_model, basis_gates=sorted(gates))
    return AerSimulator(**options)


_NOT_GATES = {"measure", "reset", "delay"}  # instructions every method runs, not basis gates


def resolve_method(method: str, noisy: bool, num_qubits: int, shots: int) -> str:
    """Aer's method, choosing the density matrix for small noisy circuits sampled often enough.

    Aer's ``automatic`` simulates noisy circuits as statevector trajectories, one per shot, unless
    shots > 2**n. Twirled runs bind many randomisations of tens of shots each; there one
    density-matrix run per binding is several times cheaper (5 qubits, 32 shots: 5 ms against
    35). Below 8 shots per binding trajectories bound at runtime are cheaper still.
    """
    if method == "automatic" and noisy and num_qubits <= 10 and shots >= 8 and 8 * shots >= 2**num_qubits:
        return "density_matrix"
    return method


FUSE_FROM_GATES = 64


def _method_options(method: str, circuits: list[QuantumCircuit]) -> dict[str, Any]:
    """Aer options per method: density matrices of circuits with at least
    :data:`FUSE_FROM_GATES` gates fuse gates with their noise into 2-qubit superoperators at
    every width (Aer's default starts at 7 qubits): on 5-qubit twirled circuits with noise that
    cuts the time per binding by about a quarter, while on a few gates (a twirled measurement
    continued from a density matrix) the fusion pass costs more than it saves."""
    if method == "density_matrix" and max(circuit.size() for circuit in circuits) >= FUSE_FROM_GATES:
        return {"fusion_threshold": 1}
    return {}


def aer_seed(job_seed: int, *stream: int | str) -> int:
    """The seed one Aer call of a job gets: a hash of the job's seed and the call's stream.

    Aer seeds shot k of a trajectory simulation (noisy statevector, PEC's per-shot draws) with
    ``seed + k``, so seeds s and s + 1 given to Aer as they are repeat each other's noise draws,
    shifted by one shot: consecutive jobs, or a sweep over seeds, would not be independent
    samples. Hashed seeds are unrelated to each other; the job's own seed stays what the record
    keeps and what its random draws (twirls, folds) start from.
    """
    parts = [part if isinstance(part, int) else zlib.crc32(part.encode()) for part in stream]
    return int(np.random.SeedSequence([job_seed, *parts]).generate_state(1, np.uint64)[0] >> 2)

"""The Pauli form of a device's noise model (``backend.noise=pauli``) against the full model.

For small circuits that both models can run, prints the exact expectation values (density
matrix, no shots) of a few observables under the full model (``restricted_noise_model``) and
under its Pauli twirl (``pauli_noise_model``), their difference, and the largest difference
per case. With ``--shots`` the Z-diagonal observables are also estimated from that many
measured shots under either model (readout errors included).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/pauli_noise.py [--shots 0] [--seeds 1]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import DensityMatrix, SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeManilaV2, FakeSherbrooke

from qrt_runner.execution.simulation.noise import restricted_noise_model
from qrt_runner.execution.simulation.pauli_noise import pauli_noise_model
from qrt_runner.execution.transpile import compact

SHERBROOKE_LINE = [0, 1, 2, 3, 4, 15]  # a 6-qubit path of FakeSherbrooke with working ECRs


@dataclass
class Case:
    name: str
    device: object
    layout: list[int]
    circuit: QuantumCircuit
    observables: list[str]  # labels on the circuit's qubits (qubit 0 is the last letter)
    isa: bool = False  # already on the device qubits ``layout`` (a delay is kept as written)


def ghz(width: int) -> QuantumCircuit:
    circuit = QuantumCircuit(width)
    circuit.h(0)
    for q in range(width - 1):
        circuit.cx(q, q + 1)
    return circuit


def mirror(width: int, depth: int, seed: int) -> QuantumCircuit:
    """Random single-qubit rotations and CX on neighbours of a line, then the inverse: ideally |0...0>."""
    rng = np.random.default_rng(seed)
    half = QuantumCircuit(width)
    for layer in range(depth):
        for q in range(width):
            half.u(*rng.uniform(0, 2 * np.pi, 3), q)
        for q in range(layer % 2, width - 1, 2):
            half.cx(q, q + 1)
    out = half.copy()
    out.barrier()  # the transpiler would cancel the inverse against the circuit
    out.compose(half.inverse(), inplace=True)
    out.name = "mirror"
    return out


def trotter_ising(width: int, layers: int, coupling: float, field: float) -> QuantumCircuit:
    """``layers`` first-order steps of exp(-i t (J sum ZZ + h sum X)) on a line, from |0...0>."""
    circuit = QuantumCircuit(width)
    for _ in range(layers):
        for start in (0, 1):
            for q in range(start, width - 1, 2):
                circuit.rzz(coupling, q, q + 1)
        for q in range(width):
            circuit.rx(field, q)
    return circuit


def held_one(device) -> QuantumCircuit:
    """|1> held for one T1 of its qubit (the documented difference: relaxation towards |0>)."""
    t1 = device.target.qubit_properties[0].t1
    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.delay(round(t1 * 1e6, 1), 0, unit="us")
    return circuit


def _label(width: int, letters: dict[int, str]) -> str:
    return "".join(letters.get(q, "I") for q in reversed(range(width)))


def observables(width: int, kind: str) -> list[str]:
    zz = [_label(width, {q: "Z", q + 1: "Z"}) for q in range(width - 1)]
    if kind == "ghz":
        return zz + ["X" * width, _label(width, {0: "Z"})]
    if kind == "mirror":
        return [_label(width, {q: "Z"}) for q in range(width)] + ["Z" * width]
    return [_label(width, {q: "Z"}) for q in range(width)] + zz + [_label(width, {q: "X"}) for q in range(width)]


def cases(seeds: int) -> list[Case]:
    manila, sherbrooke = FakeManilaV2(), FakeSherbrooke()
    out = [
        Case("GHZ-5 manila", manila, [0, 1, 2, 3, 4], ghz(5), observables(5, "ghz")),
        Case("GHZ-6 sherbrooke", sherbrooke, SHERBROOKE_LINE, ghz(6), observables(6, "ghz")),
    ]
    for seed in range(seeds):
        out.append(Case(f"mirror-4 manila s{seed}", manila, [0, 1, 2, 3], mirror(4, 3, seed), observables(4, "mirror")))
        out.append(
            Case(
                f"mirror-4 sherbrooke s{seed}",
                sherbrooke,
                SHERBROOKE_LINE[:4],
                mirror(4, 3, seed),
                observables(4, "mirror"),
            )
        )
    for device, name, layout in ((manila, "manila", [0, 1, 2, 3, 4]), (sherbrooke, "sherbrooke", SHERBROOKE_LINE)):
        width = len(layout)
        out.append(
            Case(
                f"Ising-{width} Clifford x4 {name}",
                device,
                layout,
                trotter_ising(width, 4, np.pi / 2, np.pi / 2),
                observables(width, "ising"),
            )
        )
        out.append(
            Case(
                f"Ising-{width} 0.3/0.2 x4 {name}",
                device,
                layout,
                trotter_ising(width, 4, 0.3, 0.2),
                observables(width, "ising"),
            )
        )
    out.append(Case("|1> held 1 T1 manila", manila, [0], held_one(manila), ["Z"], isa=True))
    return out


def _expectations(circuit: QuantumCircuit, model, operators: list[SparsePauliOp]) -> list[float]:
    circuit = circuit.copy()
    circuit.save_density_matrix()
    simulator = AerSimulator(method="density_matrix", noise_model=model, max_parallel_threads=1)
    state = DensityMatrix(simulator.run(circuit).result().data()["density_matrix"])
    return [float(state.expectation_value(op).real) for op in operators]


def _sampled(
    circuit: QuantumCircuit, model, labels: list[str], positions: list[int], shots: int, seed: int
) -> list[float]:
    measured = circuit.copy()
    measured.measure_all()
    simulator = AerSimulator(method="density_matrix", noise_model=model, max_parallel_threads=1, seed_simulator=seed)
    counts = simulator.run(measured, shots=shots).result().get_counts()
    out = []
    for label in labels:
        support = [positions[i] for i, c in enumerate(reversed(label)) if c == "Z"]
        total = sum(n * (-1) ** sum(int(key[::-1][q]) for q in support) for key, n in counts.items())
        out.append(total / shots)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shots", type=int, default=0, help="also estimate Z observables from this many shots (0: exact only)"
    )
    parser.add_argument("--seeds", type=int, default=1, help="random mirror circuits per device (and transpiler seeds)")
    args = parser.parse_args()

    summary = []
    header = f"{'case':32} {'observable':12} {'full':>9} {'pauli':>9} {'diff':>10}"
    if args.shots:
        header += f" {'full~':>8} {'pauli~':>8}"
    print(header)
    for case in cases(args.seeds):
        start = time.perf_counter()
        width = case.circuit.num_qubits
        if case.isa:
            on_device = QuantumCircuit(case.device.num_qubits)
            on_device.compose(case.circuit, qubits=case.layout, inplace=True)
            isa = compact(on_device, width, keep=tuple(case.layout))
        else:
            device_circuit = transpile(
                case.circuit, case.device, initial_layout=case.layout, optimization_level=1, seed_transpiler=0
            )
            isa = compact(device_circuit, width)
        positions = list(isa.logical_to_compact)
        operators = []
        for label in case.observables:
            letters = [(c, positions[i]) for i, c in enumerate(reversed(label)) if c != "I"]
            operators.append(
                SparsePauliOp.from_sparse_list(
                    [("".join(c for c, _ in letters), [q for _, q in letters], 1)], isa.circuit.num_qubits
                )
            )
        full = restricted_noise_model(case.device, isa.physical_qubits)
        pauli = pauli_noise_model(case.device, isa.physical_qubits)
        full_values = _expectations(isa.circuit, full, operators)
        pauli_values = _expectations(isa.circuit, pauli, operators)
        diagonal = [label for label in case.observables if set(label) <= {"I", "Z"}]
        sampled_full, sampled_pauli = {}, {}
        if args.shots and diagonal:
            sampled_full = dict(zip(diagonal, _sampled(isa.circuit, full, diagonal, positions, args.shots, 1)))
            sampled_pauli = dict(zip(diagonal, _sampled(isa.circuit, pauli, diagonal, positions, args.shots, 2)))
        worst = 0.0
        for label, f, p in zip(case.observables, full_values, pauli_values):
            worst = max(worst, abs(f - p))
            row = f"{case.name:32} {label:12} {f:9.5f} {p:9.5f} {f - p:+10.2e}"
            if args.shots:
                row += f" {sampled_full.get(label, float('nan')):8.4f} {sampled_pauli.get(label, float('nan')):8.4f}"
            print(row)
        summary.append((case.name, len(isa.physical_qubits), len(case.observables), worst, time.perf_counter() - start))
    print()
    print(f"{'case':32} {'qubits':>6} {'obs':>4} {'max |full - pauli|':>19} {'s':>6}")
    for name, qubits, count, worst, seconds in summary:
        print(f"{name:32} {qubits:6d} {count:4d} {worst:19.2e} {seconds:6.2f}")


if __name__ == "__main__":
    main()

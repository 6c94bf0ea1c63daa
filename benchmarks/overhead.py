"""qrt_runner's overhead against hand-written qiskit-aer primitive scripts doing the same work.

Run it with ``make bench`` (``.venv/bin/python benchmarks/overhead.py``); ``--quick`` is a smoke
test (small sizes, 3 repeats), ``--repeats N`` sets the repetitions per side (default 7).

Cases (every one single-threaded in Aer: ``max_parallel_threads=1`` on both sides):

* ``estimator_exact``: EfficientSU2 (reps=2) on 12 qubits, 100 parameter sets, 20 Pauli
  observables, ideal simulator, exact values. raw = ``qiskit_aer.primitives.EstimatorV2``
  (default_precision 0) on the transpiled circuit; qrt = ``run_experiment`` with
  ``primitive.default_precision=0``.
* ``estimator_shots``: the same workload, first 20 parameter sets only, at precision 0.015625
  (4096 shots per basis, 3 bases). raw = a hand-written script: group the Paulis qubit-wise, append basis changes and measurements,
  ``AerSimulator.run`` with ``parameter_binds``, expectation values from the counts.
* ``sampler_fake_manila``: GHZ on 5 qubits + ``measure_all``, 4096 shots on the noisy
  ``fake_manila``. raw = ``qiskit_aer.primitives.SamplerV2`` on ``AerSimulator.from_backend``
  (built once, outside the timed loop).

Each case is timed twice:

* ``*_full``: one end-to-end job, *including* building the circuit, the preset pass manager
  (optimization_level=2) and transpiling on every repetition, on both sides. The qrt side is
  ``run_experiment(spec)`` after ``shared_compiler.cache_clear()``, so a new ``LocalBackend``
  with a new pass manager and an empty transpile cache per call (within a sweep, runs of one
  process share them).
* ``*_cached``: qrt reuses its ``LocalBackend`` and workload (transpile cache hit), raw reuses
  its transpiled circuit: both time only the primitive job and reading its results.

Excluded on both sides: interpreter start-up, imports, Hydra composition (done once; its time is
printed), building the Aer simulators, and qrt's simulator child process start (one warm-up run
per side). Raw and qrt runs are interleaved; the table shows medians of wall-clock time and of
CPU time (this process, all threads, plus qrt's simulator process, from Linux ``schedstat``): on a
shared 2-core machine the CPU figure is the steadier one. The load average is printed: above
~1.5, other processes compete for the cores and the wall-clock ratios are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import PauliList, SparsePauliOp, hellinger_fidelity
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from qiskit_aer.primitives import SamplerV2 as AerSampler
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from common import cpu_seconds
from qrt_runner.config.compose import compose_spec
from qrt_runner.config.spec import RunSpec
from qrt_runner.execution.backend import LocalBackend, shared_compiler
from qrt_runner.tasks.runner import build_workload, run_experiment

THREADS = 1


def _full(spec: RunSpec):
    """A run that builds everything afresh: no pass manager or transpiled circuit from earlier runs."""
    shared_compiler.cache_clear()
    return run_experiment(spec)


PRECISION = 0.015625
SHOTS = 4096


def heisenberg_terms(num_qubits: int, count: int = 20) -> list[str]:
    """``count`` little-endian Pauli labels: neighbour ZZ, XX, YY, then single Z, X, Y (3 bases)."""

    def label(letters: dict[int, str]) -> str:
        return "".join(letters.get(q, "I") for q in reversed(range(num_qubits)))

    pairs = [label({i: p, i + 1: p}) for i in range(num_qubits - 1) for p in "ZXY"]
    singles = [label({i: p}) for i in range(num_qubits) for p in "ZXY"]
    return (pairs + singles)[:count]


def _backend_of(spec: RunSpec) -> LocalBackend:
    return LocalBackend.create(
        spec.backend.name,
        method=spec.backend.method,
        threads=spec.backend.max_parallel_threads,
        seed_simulator=spec.backend.seed_simulator,
        optimization_level=spec.transpile.optimization_level,
        seed_transpiler=spec.transpile.seed_transpiler,
    )


class EstimatorCase:
    """EfficientSU2 + Pauli observables: exact (precision 0) or shot-based."""

    def __init__(self, num_qubits: int, num_sets: int, precision: float):
        self.terms = heisenberg_terms(num_qubits)
        self.num_qubits, self.num_sets, self.precision = num_qubits, num_sets, precision
        t0 = time.perf_counter()
        self.spec = compose_spec(
            [
                "circuit=efficient_su2",
                f"circuit.num_qubits={num_qubits}",
                "circuit.reps=2",
                f"circuit.parameter_values.num_sets={num_sets}",
                "observables=paulis",
                f"observables.terms=[{','.join(self.terms)}]",
                f"primitive.default_precision={precision}",
                "tracking=none",
                f"backend.max_parallel_threads={THREADS}",
            ]
        )
        self.compose_s = time.perf_counter() - t0
        self.seed = self.spec.seed
        # Built once, as a careful raw user would: the target for transpiling and the simulator.
        self.target = AerSimulator()
        self.simulator = AerSimulator(max_parallel_threads=THREADS)
        self.estimator = AerEstimator(
            options={
                "default_precision": 0.0,
                "backend_options": {"max_parallel_threads": THREADS},
                "run_options": {"seed_simulator": self.seed},
            }
        )
        self.workload, self.backend = build_workload(self.spec), _backend_of(self.spec)
        self.isa = self._transpile(self._circuit())

    # ---- raw side
    def _circuit(self) -> QuantumCircuit:
        return efficient_su2(self.num_qubits, reps=2, entanglement="reverse_linear")

    def _transpile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        pm = generate_preset_pass_manager(optimization_level=2, backend=self.target, seed_transpiler=self.seed)
        return pm.run(circuit)

    def _values(self, circuit: QuantumCircuit) -> np.ndarray:
        rng = np.random.default_rng(self.seed)  # what circuit.parameter_values kind=random draws
        return rng.uniform(0.0, 2 * np.pi, size=(self.num_sets, circuit.num_parameters))

    def raw(self, cached: bool) -> np.ndarray:
        isa = self.isa if cached else self._transpile(self._circuit())
        values = self._values(isa)
        if self.precision == 0:
            observables = [SparsePauliOp(t).apply_layout(isa.layout) for t in self.terms]
            pub = (isa, observables, values.reshape(self.num_sets, 1, -1))
            return self.estimator.run([pub]).result()[0].data.evs
        return self._raw_shots(isa, values)

    def _raw_shots(self, isa: QuantumCircuit, values: np.ndarray) -> np.ndarray:
        """Measure each qubit-wise commuting group in its basis; evs from the counts."""
        labels = [SparsePauliOp(t).apply_layout(isa.layout).paulis[0].to_label() for t in self.terms]
        index = {label: k for k, label in enumerate(labels)}
        groups = [g.to_labels() for g in PauliList(labels).group_qubit_wise_commuting()]
        circuits, masks = [], []
        for group in groups:
            basis = {q: letter for label in group for q, letter in enumerate(reversed(label)) if letter != "I"}
            measured = sorted(basis)
            circuit = isa.copy()
            creg = ClassicalRegister(len(measured), "c")
            circuit.add_register(creg)
            for clbit, qubit in enumerate(measured):
                if basis[qubit] == "Y":
                    circuit.sdg(qubit)
                if basis[qubit] in "XY":
                    circuit.h(qubit)
                circuit.measure(qubit, creg[clbit])
            circuits.append(circuit)
            masks.append([sum(1 << c for c, q in enumerate(measured) if label[-1 - q] != "I") for label in group])
        binds = {p: values[:, i] for i, p in enumerate(isa.parameters)}
        result = self.simulator.run(
            circuits, parameter_binds=[binds] * len(circuits), shots=SHOTS, seed_simulator=self.seed
        ).result()
        evs = np.zeros((self.num_sets, len(labels)))
        for g, group in enumerate(groups):
            mask = np.array(masks[g], dtype=np.int64)
            columns = [index[label] for label in group]
            for s in range(self.num_sets):
                counts = result.data(g * self.num_sets + s)["counts"]
                outcomes = np.array([int(key, 16) for key in counts], dtype=np.int64)
                weights = np.fromiter(counts.values(), dtype=float)
                signs = 1.0 - 2.0 * (np.bitwise_count(outcomes[:, None] & mask[None, :]) & 1)
                evs[s, columns] = weights @ signs / weights.sum()
        return evs

    # ---- qrt side
    def qrt(self, cached: bool):
        result = run_experiment(self.spec, self.workload, self.backend) if cached else _full(self.spec)
        assert result.status == "FINISHED", result.error
        return result.estimator.evs, result

    def check(self, raw_evs: np.ndarray, qrt_evs: np.ndarray, exact: np.ndarray | None) -> str:
        assert raw_evs.shape == qrt_evs.shape == (self.num_sets, len(self.terms)), (raw_evs.shape, qrt_evs.shape)
        if self.precision == 0:
            diff = float(np.max(np.abs(raw_evs - qrt_evs)))
            assert diff < 1e-9, f"exact evs differ by {diff}"
            return f"max |raw - qrt| = {diff:.1e}"
        exact = exact[: self.num_sets]  # random parameter sets: the first rows of the exact case's draw
        worst = max(float(np.max(np.abs(e - exact))) for e in (raw_evs, qrt_evs))
        assert worst < 6 * self.precision, f"shot evs off the exact ones by {worst}"
        return f"max |ev - exact| = {worst:.4f} (< 6 x {self.precision})"


class SamplerCase:
    """GHZ + measure_all, 4096 shots on the noisy fake_manila."""

    def __init__(self, num_qubits: int):
        self.num_qubits = num_qubits
        t0 = time.perf_counter()
        self.spec = compose_spec(
            [
                "primitive=sampler",
                "circuit=ghz",
                f"circuit.num_qubits={num_qubits}",
                "observables=none",
                "backend=fake_manila",
                f"primitive.default_shots={SHOTS}",
                "tracking=none",
                f"backend.max_parallel_threads={THREADS}",
            ]
        )
        self.compose_s = time.perf_counter() - t0
        self.seed = self.spec.seed
        self.device = FakeManilaV2()
        simulator = AerSimulator.from_backend(self.device, max_parallel_threads=THREADS)
        self.sampler = AerSampler.from_backend(simulator, seed=self.seed, default_shots=SHOTS)
        self.workload, self.backend = build_workload(self.spec), _backend_of(self.spec)
        self.isa = self._transpile(self._circuit())

    def _circuit(self) -> QuantumCircuit:
        circuit = QuantumCircuit(self.num_qubits)
        circuit.h(0)
        for q in range(self.num_qubits - 1):
            circuit.cx(q, q + 1)
        circuit.measure_all()
        return circuit

    def _transpile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        pm = generate_preset_pass_manager(optimization_level=2, backend=self.device, seed_transpiler=self.seed)
        return pm.run(circuit)

    def raw(self, cached: bool) -> dict[str, int]:
        isa = self.isa if cached else self._transpile(self._circuit())
        return self.sampler.run([isa], shots=SHOTS).result()[0].data.meas.get_counts()

    def qrt(self, cached: bool):
        result = run_experiment(self.spec, self.workload, self.backend) if cached else _full(self.spec)
        assert result.status == "FINISHED", result.error
        return result.sampler.counts[0], result

    def check(self, raw_counts: dict, qrt_counts: dict, exact=None) -> str:
        totals = (sum(raw_counts.values()), sum(qrt_counts.values()))
        assert totals == (SHOTS, SHOTS), totals
        fidelity = hellinger_fidelity(raw_counts, qrt_counts)
        assert fidelity > 0.98, f"raw and qrt distributions differ (Hellinger fidelity {fidelity:.3f})"
        return (
            f"counts {totals[0]} / {totals[1]}, identical={raw_counts == qrt_counts}, Hellinger fidelity {fidelity:.4f}"
        )


def _timed(function, *args):
    cpu, start = cpu_seconds(), time.perf_counter()
    out = function(*args)
    return time.perf_counter() - start, cpu_seconds() - cpu, out


def measure(case, cached: bool, repeats: int, exact=None) -> dict:
    """Warm up both sides once, then interleave ``repeats`` raw and qrt runs (alternating order)."""
    raw_out = case.raw(cached)
    qrt_out, _ = case.qrt(cached)
    note = case.check(raw_out, qrt_out, exact)
    times = {"raw": [], "qrt": [], "raw_cpu": [], "qrt_cpu": []}
    phases = []
    for rep in range(repeats):
        for side in ("raw", "qrt") if rep % 2 == 0 else ("qrt", "raw"):
            elapsed, cpu, out = _timed(getattr(case, side), cached)
            times[side].append(elapsed)
            times[f"{side}_cpu"].append(cpu)
            if side == "qrt":
                result = out[1]
                phases.append({**result.timings, "sim_s": sum(j.usage_s for j in result.jobs), "wall_s": elapsed})
    stats = {key: statistics.median(values) for key, values in times.items()}
    stats["phase"] = {key: statistics.median(p[key] for p in phases) for key in phases[0]}
    return {**stats, "note": note, "raw_out": raw_out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per side and case (default 7; 3 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and 3 repeats (smoke test)")
    parser.add_argument("--no-shots", action="store_true", help="skip the shot-based estimator case")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    qubits, sets = (6, 10) if args.quick else (12, 100)

    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    cases = [("estimator_exact", EstimatorCase(qubits, sets, 0.0))]
    if not args.no_shots:
        cases.append(("estimator_shots", EstimatorCase(qubits, min(sets, 20), PRECISION)))
    cases.append(("sampler_fake_manila", SamplerCase(5)))
    print(
        f"EfficientSU2 reps=2 on {qubits} qubits, {sets} parameter sets, 20 observables; "
        f"sampler: GHZ-5 + measure_all, {SHOTS} shots on fake_manila. Aer threads={THREADS}, {repeats} repeats."
    )
    print(
        "Hydra compose + build_spec (once, not timed): "
        + ", ".join(f"{name} {case.compose_s:.3f} s" for name, case in cases)
    )

    rows, exact = [], None
    for name, case in cases:
        for cached in (False, True):
            stats = measure(case, cached, repeats, exact)
            if name == "estimator_exact" and not cached:
                exact = stats["raw_out"]
            rows.append((f"{name}_{'cached' if cached else 'full'}", stats))
            print(f"  {rows[-1][0]}: {stats['note']}", flush=True)

    print("\nfull   = circuit build + pass manager + transpile + job, every repetition, both sides")
    print("cached = qrt reuses its LocalBackend (transpile cache hit), raw reuses its transpiled circuit\n")
    print(
        f"{'case':28s} {'raw median s':>13s} {'qrt median s':>13s} {'ratio':>6s}   "
        f"{'raw cpu s':>9s} {'qrt cpu s':>9s} {'cpu ratio':>9s}"
    )
    for name, s in rows:
        print(
            f"{name:28s} {s['raw']:13.4f} {s['qrt']:13.4f} {s['qrt'] / s['raw']:6.3f}   "
            f"{s['raw_cpu']:9.4f} {s['qrt_cpu']:9.4f} {s['qrt_cpu'] / s['raw_cpu']:9.3f}"
        )
    print("\nqrt phases (medians, s): build / transpile / execute (of which in the simulator child) / total / wall")
    for name, s in rows:
        p = s["phase"]
        print(
            f"{name:32s} {p['time_build_s']:.4f} / {p['time_transpile_s']:.4f} / {p['time_execute_s']:.4f} "
            f"({p['sim_s']:.4f}) / {p['time_total_s']:.4f} / {p['wall_s']:.4f}"
        )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}\n")
    for name, s in rows:
        print(f"ratio {name} {s['qrt'] / s['raw']:.3f}")


if __name__ == "__main__":
    main()

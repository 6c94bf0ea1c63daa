"""How much qrt_runner's error mitigation reduces the error on noisy fake backends.

Run it with ``.venv/bin/python benchmarks/mitigation.py`` (``--quick``: fewer cases, precision 1/32).

For each case (a logical circuit and Pauli observables with known exact values) and each
technique (``level0`` raw, ``level1`` TREX, ``level2`` twirling + ZNE + TREX, ``zne``), the
estimator runs at ``default_precision`` 1/64 on the named fake backend (2 Aer threads, fixed
seeds). The table shows, averaged over the observables, |exact - raw| (raw = level 0 run once per
case), |exact - mitigated|, the reported standard error and the wall time of the mitigated job,
and ratio = raw error / mitigated error. Goals: level 1 ratio >= 3 on the readout-dominated
cases (GHZ, mirror), level 2 ratio >= 5 on Ising and mirror.

Cases:

* ``ghz{n}``: GHZ state on n qubits; observables Z_0 Z_i (exact 1) and X...X (exact 1).
* ``ising{n}``: 5 first-order Trotter steps (dt 0.2, J 1, h 1) of the transverse-field Ising
  chain from |0...0>: rzz / rx layers, 5 (n - 1) rzz gates (20 for n = 5; each is two CX on
  the device); observables the magnetisation (1/n) sum Z_i and the ZZ correlators.
* ``mirror{n}``: a random circuit U (seeded) then U^-1; exact state |0...0>, observables Z_i (+1).

Afterwards, the same cases through IBM's client-side ``qiskit_ibm_runtime.executor_estimator``
with the same options, if it runs locally; otherwise one line says why it was skipped.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp, Statevector

TECHNIQUES = {
    "level0": ["mitigation.resilience_level=0"],
    "level1": ["mitigation.resilience_level=1"],
    "level2": ["mitigation.resilience_level=2"],
    "zne": ["mitigation=zne"],
}


def ghz(n: int):
    qc = QuantumCircuit(n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    return qc, [SparsePauliOp(_z_pair(n, 0, i)) for i in range(1, n)] + [SparsePauliOp("X" * n)]


def _z_pair(n: int, i: int, j: int) -> str:
    letters = ["I"] * n
    letters[n - 1 - i] = letters[n - 1 - j] = "Z"
    return "".join(letters)


def ising(n: int, steps: int = 5, dt: float = 0.2, j: float = 1.0, h: float = 1.0):
    qc = QuantumCircuit(n)
    for _ in range(steps):
        for parity in (0, 1):
            for i in range(parity, n - 1, 2):
                qc.rzz(2 * j * dt, i, i + 1)
        for i in range(n):
            qc.rx(2 * h * dt, i)
    magnetisation = SparsePauliOp.from_sparse_list([("Z", [i], 1 / n) for i in range(n)], n)
    return qc, [magnetisation] + [SparsePauliOp(_z_pair(n, i, i + 1)) for i in range(n - 1)]


def mirror(n: int, depth: int = 3, seed: int = 7):
    u = random_circuit(n, depth, max_operands=2, seed=seed)
    qc = u.compose(u.inverse())
    return qc, [SparsePauliOp.from_sparse_list([("Z", [i], 1.0)], n) for i in range(n)]


def cases(quick: bool):
    out = [("ghz3", "fake_manila", *ghz(3)), ("ghz5", "fake_manila", *ghz(5)),
           ("ising5", "fake_manila", *ising(5)), ("mirror5", "fake_manila", *mirror(5))]
    if not quick:
        out += [("ghz4", "fake_lima", *ghz(4)), ("ising4", "fake_quito", *ising(4))]
    return out


def exact_values(circuit, observables):
    state = Statevector(circuit)
    return np.array([state.expectation_value(op).real for op in observables])


def run_qrt(cases_, precision: float):
    """{(case, technique): (evs, stds, wall_s)} from qrt_runner's Estimator."""
    from qrt_runner.backend import LocalBackend
    from qrt_runner.config.compose import compose_spec
    from qrt_runner.mitigation.options import finalize
    from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

    mitigations = {t: finalize(compose_spec(o).mitigation) for t, o in TECHNIQUES.items()}
    backends = {}
    out = {}
    for name, device, circuit, observables in cases_:
        if device not in backends:
            backends[device] = LocalBackend.create(device, threads=2, seed_simulator=1)
        for tech, mitigation in mitigations.items():
            est = Estimator(backends[device], options=EstimatorOptions(default_precision=precision, mitigation=mitigation))
            start = time.perf_counter()
            data = est.run([(circuit, observables)]).result()[0].data
            out[name, tech] = (np.asarray(data.evs), np.asarray(data.stds), time.perf_counter() - start)
    return out


def run_ibm(cases_, precision: float):
    """The same through qiskit_ibm_runtime.executor_estimator in local mode."""
    from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
    from qiskit_ibm_runtime.executor_estimator import Estimator
    from qiskit_ibm_runtime.options_models import EstimatorOptions

    from qrt_runner.fake_backends import fake_backend

    levels = {"level0": 0, "level1": 1, "level2": 2, "zne": 1}
    out = {}
    for name, device, circuit, observables in cases_:
        backend = fake_backend(device)
        isa = generate_preset_pass_manager(optimization_level=2, backend=backend, seed_transpiler=0).run(circuit)
        isa_obs = [op.apply_layout(isa.layout) for op in observables]
        for tech, level in levels.items():
            options = EstimatorOptions(resilience_level=level, default_precision=precision)
            options.simulator.seed_simulator = 1
            options.resilience.zne_mitigation = tech in ("level2", "zne")
            start = time.perf_counter()
            data = Estimator(mode=backend, options=options).run([(isa, isa_obs)]).result()[0].data
            out[name, tech] = (np.asarray(data.evs), np.asarray(data.stds), time.perf_counter() - start)
    return out


def table(title, cases_, results):
    print(f"\n{title}")
    print(f"{'case':<9}{'backend':<13}{'technique':<10}{'|ex-raw|':>10}{'|ex-mit|':>10}{'std':>9}{'wall s':>8}{'ratio':>8}")
    for name, device, circuit, observables in cases_:
        exact = exact_values(circuit, observables)
        raw_err = np.mean(np.abs(exact - results[name, "level0"][0]))
        for tech in TECHNIQUES:
            if (name, tech) not in results:
                continue
            evs, stds, wall = results[name, tech]
            err = np.mean(np.abs(exact - evs))
            ratio = "" if tech == "level0" else f"{raw_err / max(err, 1e-12):.1f}x"
            print(f"{name:<9}{device:<13}{tech:<10}{raw_err:>10.4f}{err:>10.4f}{np.mean(stds):>9.4f}{wall:>8.2f}{ratio:>8}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases, precision 1/32")
    args = parser.parse_args()
    precision = 1 / 32 if args.quick else 1 / 64
    cases_ = cases(args.quick)
    print(f"precision {precision}, threads 2, seed_simulator 1, seed_transpiler 0")
    table("qrt_runner", cases_, run_qrt(cases_, precision))
    try:
        table("qiskit_ibm_runtime.executor_estimator (local)", cases_, run_ibm(cases_, precision))
    except Exception as exc:  # noqa: BLE001 - report, never crash
        print(f"\nqiskit_ibm_runtime.executor_estimator skipped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


if __name__ == "__main__":
    main()

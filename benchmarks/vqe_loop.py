"""Per-iteration time of a VQE loop in qrt_runner against hand-written qiskit-aer loops.

Run it with ``.venv/bin/python benchmarks/vqe_loop.py``; ``--quick`` is a smoke test (fewer
iterations, smaller Ising case, 3 repeats), ``--repeats N`` sets the repetitions of each whole
loop (default 7), ``--profile`` adds a per-iteration breakdown and a cProfile of qrt's primitive loop.

Cases (ideal simulator, exact expectation values, Aer ``max_parallel_threads=1`` everywhere):

* ``h2``: the ``vqe_h2`` experiment: RealAmplitudes (2 qubits, reps=2, linear) and
  ``qrt_runner.workload.observables.H2_0735``.
* ``ising<n>``: the ``vqe_ising`` experiment on n qubits (default 10): EfficientSU2 (reps=2,
  reverse_linear) and the open transverse-field Ising chain (j = h = 1).

Every loop evaluates the *same* fixed sequence of parameter points: N iterations of 3 points
(x, x + c delta, x - c delta, SPSA-like, from a seeded RNG; x does a seeded random walk), one
primitive job of one PUB per iteration. Rows:

* ``raw``: a careful user: ``qiskit_aer.primitives.EstimatorV2`` (default_precision 0),
  circuit transpiled once before the loop (preset pass manager, optimization_level=2, same seed),
  then per iteration ``estimator.run([(isa_circuit, isa_observable, points)])``.
* ``raw_retranspile``: a naive user: the same, but ``generate_preset_pass_manager`` + ``run``
  and ``apply_layout`` on every iteration.
* ``raw_expert`` (information: the floor for this work): the ``save_expectation_value`` circuit
  built once from the ISA circuit, then per iteration ``AerSimulator.run(circuit,
  parameter_binds=...)`` and the sum of coefficient x saved value (what qrt's simulator child does,
  without the process boundary); ``EstimatorV2`` instead rebuilds that circuit on every call.
* ``qrt``: what ``run_variational`` does per iteration: ``Estimator.run([(circuit, [H], points)])``
  on a ``LocalBackend.create(..., threads=1)`` inside ``ExecutionMode("session", ...)``, precision 0
  (exact, like raw). The transpile cache is warm (one warm-up loop per side).
* ``qrt_shots`` (information only, not the same work): the same at precision 0.015625, i.e.
  ceil(1/p^2) = 4096 shots per qubit-wise-commuting basis, evs from counts. Aer's EstimatorV2 at a
  non-zero precision computes exact values and adds Gaussian noise, so it has no shots-based
  counterpart here.
* ``qrt_vqe``: qrt's real loop, ``run_variational`` with SPSA (``task.optimizer.maxiter=N``,
  3 points per iteration, precision 0), reusing the LocalBackend (transpile cache hit). Its
  per-iteration wall figure is ``time_optimize_s / N`` (the optimiser loop only); its note gives
  the whole call divided by N (with one-off work such as the exact ground energy), and its CPU
  column covers the whole call.

Excluded everywhere: imports, Hydra composition (printed once), building the simulators and qrt's
simulator child process start (warm-up). Sides are interleaved, rotating their order each
repetition; the table shows medians of wall-clock and CPU time (this process, all threads, plus
qrt's simulator process from Linux ``schedstat``) per iteration, in milliseconds. For qrt rows,
``sim/it`` is the time the child spends in ``AerSimulator.run`` and unpacking its result
(``job.usage_s``); for raw rows it is Aer's C++ execute time (``time_taken_execute``). On a
shared 2-core machine the CPU column is the steadier one; the load average is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import time

import numpy as np
from qiskit.quantum_info import Pauli, SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimator

from common import cpu_seconds
from qrt_runner.config import schema as s
from qrt_runner.config.compose import compose_spec
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.modes import ExecutionMode
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.tasks.runner import build_workload
from qrt_runner.tasks.variational import run_variational
from qrt_runner.workload.observables import H2_0735, ising

THREADS = 1
SHOT_PRECISION = 0.015625  # 4096 shots per basis
POINTS_PER_ITERATION = 3
SIDES = ("raw", "raw_retranspile", "raw_expert", "qrt", "qrt_shots", "qrt_vqe")


def spsa_like_points(num_parameters: int, iterations: int, seed: int, c: float = 0.1) -> list[np.ndarray]:
    """``iterations`` arrays of shape (3, P): x, x + c delta, x - c delta, x a seeded random walk."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.1, 0.1, num_parameters)
    out = []
    for _ in range(iterations):
        delta = rng.choice([-1.0, 1.0], size=num_parameters)
        out.append(np.vstack([x, x + c * delta, x - c * delta]))
        x = x + rng.normal(0.0, 0.05, num_parameters)
    return out


class VqeCase:
    """One ansatz + Hamiltonian, its fixed parameter points, and the loops (SIDES) over them."""

    def __init__(self, name: str, overrides: list[str], iterations: int, expected: SparsePauliOp):
        self.name, self.iterations = name, iterations
        t0 = time.perf_counter()
        base = [
            "tracking=none",
            f"backend.max_parallel_threads={THREADS}",
            "primitive.default_precision=0.0",
            "task.optimizer.name=spsa",
            f"task.optimizer.maxiter={iterations}",
        ]
        self.spec = compose_spec(overrides + base)
        self.compose_s = time.perf_counter() - t0
        assert self.spec.session.mode == "session", self.spec.session.mode
        self.workload = build_workload(self.spec)
        self.circuit = self.workload.circuit
        self.hamiltonian = self.workload.observables[0][1]
        assert self.hamiltonian.equiv(expected), f"{name}: the experiment's Hamiltonian is not the expected one"
        self.seed = self.spec.seed
        self.points = spsa_like_points(self.circuit.num_parameters, iterations, self.seed)

        # raw: built once, as a careful user would (a transpile target and one estimator).
        self.transpile_target = AerSimulator()
        self.estimator = AerEstimator(
            options={
                "default_precision": 0.0,
                "backend_options": {"max_parallel_threads": THREADS},
                "run_options": {"seed_simulator": self.seed},
            }
        )
        self.isa, self.isa_observable = self._transpile()
        # raw_expert: the saved-expectation-value circuit built once, AerSimulator.run directly.
        self.simulator = AerSimulator(max_parallel_threads=THREADS)
        self.expval_circuit = self.isa.copy()
        self.expval_terms = [(label, float(np.real(coeff))) for label, coeff in self.isa_observable.to_list()]
        for label in sorted({label for label, _ in self.expval_terms}):
            self.expval_circuit.save_expectation_value(Pauli(label), list(range(self.isa.num_qubits)), label=label)

        # qrt: one LocalBackend (its transpile cache and simulator child are reused).
        self.backend = LocalBackend.create(
            self.spec.backend.name,
            method=self.spec.backend.method,
            threads=THREADS,
            seed_simulator=self.spec.backend.seed_simulator,
            optimization_level=self.spec.transpile.optimization_level,
            seed_transpiler=self.spec.transpile.seed_transpiler,
        )
        self.backend.executor.warm_up()
        self.aer_s = 0.0  # Aer time of the last loop
        self.extra: dict = {}

    def _transpile(self):
        pm = generate_preset_pass_manager(
            optimization_level=self.spec.transpile.optimization_level,
            backend=self.transpile_target,
            seed_transpiler=self.spec.transpile.seed_transpiler,
        )
        isa = pm.run(self.circuit)
        return isa, self.hamiltonian.apply_layout(isa.layout, num_qubits=isa.num_qubits)

    # ---- raw loops
    def raw(self) -> np.ndarray:
        out, aer = [], 0.0
        for points in self.points:
            result = self.estimator.run([(self.isa, self.isa_observable, points)]).result()[0]
            aer += result.metadata["simulator_metadata"].get("time_taken_execute", 0.0)
            out.append(result.data.evs)
        self.aer_s = aer
        return np.array(out)

    def raw_retranspile(self) -> np.ndarray:
        out, aer = [], 0.0
        for points in self.points:
            isa, observable = self._transpile()
            result = self.estimator.run([(isa, observable, points)]).result()[0]
            aer += result.metadata["simulator_metadata"].get("time_taken_execute", 0.0)
            out.append(result.data.evs)
        self.aer_s = aer
        return np.array(out)

    def raw_expert(self) -> np.ndarray:
        out, aer = [], 0.0
        parameters = list(self.expval_circuit.parameters)
        for points in self.points:
            binds = {p: points[:, i] for i, p in enumerate(parameters)}
            result = self.simulator.run(self.expval_circuit, parameter_binds=[binds], seed_simulator=self.seed).result()
            aer += result.metadata.get("time_taken_execute", 0.0)
            out.append(
                [sum(coeff * result.data(k)[label] for label, coeff in self.expval_terms) for k in range(len(points))]
            )
        self.aer_s = aer
        return np.array(out)

    # ---- qrt loops
    def _qrt_loop(self, precision: float) -> tuple[np.ndarray, np.ndarray]:
        """As run_variational's objective: one Estimator job of one PUB per iteration, in a session."""
        spec = self.spec
        mode = ExecutionMode("session", self.backend.executor, spec.session.max_time)
        estimator = Estimator(self.backend, mode, EstimatorOptions(precision, None, spec.primitive.max_execution_time))
        evs, stds = [], []
        for points in self.points:
            job = estimator.run([(self.circuit, [self.hamiltonian], points)])
            data = job.result()[0].data
            evs.append(np.asarray(data.evs).reshape(-1))
            stds.append(np.asarray(data.stds).reshape(-1))
        mode.close()
        self.aer_s = sum(job.usage_s for job in mode.jobs)
        return np.array(evs), np.array(stds)

    def qrt(self) -> np.ndarray:
        return self._qrt_loop(0.0)[0]

    def qrt_shots(self) -> np.ndarray:
        evs, stds = self._qrt_loop(SHOT_PRECISION)
        self.extra["shot_stds"] = stds
        return evs

    def qrt_vqe(self):
        wall = time.perf_counter()
        result = run_variational(self.spec, self.workload, backend=self.backend)
        wall = time.perf_counter() - wall
        assert result.status == "FINISHED", result.error
        optimization = result.optimization
        assert optimization["iterations"] == self.iterations, optimization["iterations"]
        assert optimization["evaluations"] == POINTS_PER_ITERATION * self.iterations, optimization["evaluations"]
        self.aer_s = sum(job.usage_s for job in result.jobs)
        self.extra["vqe_loop_s"] = result.timings["time_optimize_s"]
        self.extra["vqe_wall_s"] = wall
        return optimization["best_energy"]

    def check(self, outputs: dict) -> str:
        raw = outputs["raw"]
        assert raw.shape == (self.iterations, POINTS_PER_ITERATION), raw.shape
        exact_diff = max(
            float(np.max(np.abs(outputs[side] - raw))) for side in ("raw_retranspile", "raw_expert", "qrt")
        )
        assert exact_diff < 1e-9, f"{self.name}: exact evs differ by {exact_diff}"
        shots_diff = np.abs(outputs["qrt_shots"] - raw)
        stds = self.extra["shot_stds"]
        worst = float(np.max(shots_diff / np.maximum(stds, 1e-12)))
        assert worst < 6, f"{self.name}: shot evs {worst:.1f} standard errors off the exact ones"
        return (
            f"max |raw - raw_retranspile|, |raw - raw_expert|, |raw - qrt| = {exact_diff:.1e}; "
            f"qrt_shots within {worst:.2f} std errors (median std {float(np.median(stds)):.4f}); "
            f"qrt_vqe best energy {outputs['qrt_vqe']:.5f}"
        )


def _timed(case: VqeCase, side: str):
    cpu, start = cpu_seconds(), time.perf_counter()
    out = getattr(case, side)()
    return time.perf_counter() - start, cpu_seconds() - cpu, out


def measure(case: VqeCase, repeats: int) -> dict:
    """Warm up every side once (checked), then ``repeats`` rounds of all sides in rotating order."""
    outputs = {side: getattr(case, side)() for side in SIDES}
    note = case.check(outputs)
    samples = {side: {"wall": [], "cpu": [], "aer": [], "vqe_wall": []} for side in SIDES}
    for rep in range(repeats):
        order = SIDES[rep % len(SIDES) :] + SIDES[: rep % len(SIDES)]
        for side in order:
            wall, cpu, _ = _timed(case, side)
            record = samples[side]
            record["cpu"].append(cpu)
            record["aer"].append(case.aer_s)
            if side == "qrt_vqe":  # the optimiser loop itself; the whole call is reported apart
                record["wall"].append(case.extra["vqe_loop_s"])
                record["vqe_wall"].append(case.extra["vqe_wall_s"])
            else:
                record["wall"].append(wall)
    per_it = 1000.0 / case.iterations
    stats = {
        side: {key: statistics.median(values) * per_it for key, values in record.items() if values}
        for side, record in samples.items()
    }
    return {"stats": stats, "note": note}


def profile_qrt(case: VqeCase, loops: int = 3, top: int = 22) -> str:
    """Where qrt's per-iteration time goes: a timed breakdown, then cProfile of both parent threads.

    The job runs on the session's worker thread (``ExecutionMode._queue``, one thread), so a second
    profiler is enabled on that thread by submitting its ``enable`` to the same queue. The child
    process's own work shows as waiting on the pipe; ``job.usage_s`` measures it.
    """
    spec = case.spec
    buffer = io.StringIO()
    mode = ExecutionMode("session", case.backend.executor, spec.session.max_time)
    estimator = Estimator(case.backend, mode, EstimatorOptions(0.0, None, spec.primitive.max_execution_time))
    for points in case.points:  # warm
        estimator.run([(case.circuit, [case.hamiltonian], points)]).result()
    submit, wait, child = [], [], []
    for _ in range(loops):
        for points in case.points:
            t0 = time.perf_counter()
            job = estimator.run([(case.circuit, [case.hamiltonian], points)])
            t1 = time.perf_counter()
            job.result()
            t2 = time.perf_counter()
            submit.append(t1 - t0)
            wait.append(t2 - t1)
            child.append(job.usage_s)
    ms = lambda values: 1000 * statistics.median(values)  # noqa: E731
    rest = [w - c for w, c in zip(wait, child)]
    buffer.write(
        f"qrt per-iteration breakdown on {case.name} (medians over {len(submit)} iterations, ms): "
        f"Estimator.run (coerce PUB, compile cache lookup, plan, submit) {ms(submit):.3f}; "
        f"job.result() wait {ms(wait):.3f}, of which the child's execute() {ms(child):.3f} and the rest "
        f"(worker-thread hand-off, pickling + pipe both ways, child dispatch, combine) {ms(rest):.3f}\n"
    )
    main_profiler, worker_profiler = cProfile.Profile(), cProfile.Profile()
    mode._queue.submit(worker_profiler.enable).result()
    main_profiler.enable()
    for _ in range(loops):
        for points in case.points:
            estimator.run([(case.circuit, [case.hamiltonian], points)]).result()
    main_profiler.disable()
    mode._queue.submit(worker_profiler.disable).result()
    mode.close()
    calls = loops * case.iterations
    for title, profiler in (("main thread", main_profiler), ("session worker thread", worker_profiler)):
        buffer.write(f"\ncProfile, {title}, {calls} iterations of {case.name} (totals), by cumulative time\n")
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats("cumulative").print_stats(top)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed loops per side and case (default 7; 3 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations, 6-qubit Ising case, 3 repeats (smoke test)"
    )
    parser.add_argument("--iterations", type=int, default=None, help="iterations per loop (default 20; 8 with --quick)")
    parser.add_argument(
        "--qubits", type=int, default=None, help="qubits of the Ising case (default 10; 6 with --quick)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print where qrt's per-iteration time goes (timed breakdown + cProfile)",
    )
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    iterations = args.iterations or (8 if args.quick else 20)
    qubits = args.qubits or (6 if args.quick else 10)

    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    cases = [
        VqeCase("h2", ["experiment=vqe_h2"], iterations, H2_0735),
        VqeCase(
            f"ising{qubits}",
            ["experiment=vqe_ising", f"circuit.num_qubits={qubits}"],
            iterations,
            ising(s.IsingObservables(num_qubits=qubits)),
        ),
    ]
    for case in cases:
        ops = dict(case.isa.count_ops())
        print(
            f"{case.name}: {case.circuit.num_qubits} qubits, {case.circuit.num_parameters} parameters, "
            f"{len(case.hamiltonian)} Pauli terms, ISA ops {ops}; Hydra compose + build_spec {case.compose_s:.3f} s (not timed)"
        )
    print(f"{iterations} iterations x {POINTS_PER_ITERATION} points per loop, {repeats} repeats, Aer threads={THREADS}")

    rows = []
    for case in cases:
        result = measure(case, repeats)
        rows.append((case, result))
        print(f"  {case.name}: {result['note']}", flush=True)

    print("\nper-iteration medians, ms; ratio = side / raw (wall), cpu ratio = the same on CPU time")
    print(
        "sim/it: raw sides = Aer's C++ execute time (result metadata time_taken_execute); "
        "qrt sides = the child's whole AerSimulator.run + unpacking (job.usage_s)"
    )
    print(
        f"{'case':9s} {'side':16s} {'wall/it':>9s} {'cpu/it':>9s} {'sim/it':>8s} {'ratio':>7s} {'cpu ratio':>9s}  note"
    )
    for case, result in rows:
        st = result["stats"]
        raw = st["raw"]
        for side in SIDES:
            v = st[side]
            note = {
                "raw": "EstimatorV2 precision 0, transpiled once (baseline 1)",
                "raw_retranspile": "EstimatorV2, pass manager + transpile every iteration (baseline 2)",
                "raw_expert": "information: save_expectation_value circuit built once, AerSimulator.run",
                "qrt": "Estimator.run in a session, precision 0: same work as raw",
                "qrt_shots": f"information: precision {SHOT_PRECISION} = 4096 shots per basis, evs from counts",
                "qrt_vqe": f"run_variational spsa, optimiser loop (whole call {v.get('vqe_wall', float('nan')):.2f} ms/it)",
            }[side]
            print(
                f"{case.name:9s} {side:16s} {v['wall']:9.3f} {v['cpu']:9.3f} {v['aer']:8.3f} "
                f"{v['wall'] / raw['wall']:7.3f} {v['cpu'] / raw['cpu']:9.3f}  {note}"
            )
    print()
    for case, result in rows:
        st = result["stats"]
        qrt = st["qrt"]
        print(
            f"{case.name}: qrt is {st['raw_retranspile']['wall'] / qrt['wall']:.1f}x faster than raw_retranspile; "
            f"qrt / raw_expert = {qrt['wall'] / st['raw_expert']['wall']:.3f} (cpu {qrt['cpu'] / st['raw_expert']['cpu']:.3f}); "
            f"qrt_vqe / raw = {st['qrt_vqe']['wall'] / st['raw']['wall']:.3f}; "
            f"qrt outside the simulator child: {qrt['wall'] - qrt['aer']:.3f} ms/it"
        )

    if args.profile:
        print()
        for case in cases:
            print(profile_qrt(case))

    print(f"\nload average at end: {os.getloadavg()[0]:.2f}\n")
    for case, result in rows:
        st = result["stats"]
        print(f"ratio {case.name} {st['qrt']['wall'] / st['raw']['wall']:.3f}")


if __name__ == "__main__":
    main()

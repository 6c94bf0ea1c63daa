"""The cost of a sweep's points, and what a parallel launcher gains, measured as whole commands.

Run it with ``.venv/bin/python benchmarks/sweep.py`` (about 8 minutes with the default 3
repeats; ``--repeats N``, ``--quick``: one repeat of smaller points). Every command is a fresh
process in a fresh folder, timed from start to exit, so start-up, imports, opening the store and
the sweep's own record are all counted; the folder's ``mlflow.db`` is created (untimed) before a
tracked command, as it exists after a project's first run.

Cases (Aer single-threaded in every point: ``backend.max_parallel_threads=1``):

* ``basic_vs_loop``: 8 points, a random circuit (19 qubits, depth 40; ``seed=1..8``) with the exact
  ``<Z...Z>`` on the ideal simulator, about 0.5 s of simulation each (0.2-0.6 s by seed; 18 qubits
  had become 0.1-0.3 s once the simulator got faster). qrt = ``qrt-run -m`` with the
  basic launcher, with tracking (sqlite, the default) and without (``tracking=none``);
  raw = one Python process that builds, transpiles (optimization level 2) and runs the same 8
  circuits in a loop with ``qiskit_aer.primitives.EstimatorV2``. Both sides are also run with the
  first point only, so that the cost of one more point is (T(8) - T(1)) / 7, apart from the start-up
  (imports, store creation) that a process pays once. Goal: qrt (tracked) / raw <= 1.3, per point.
* ``joblib_vs_basic``: 8 CPU-bound points (EfficientSU2 on 21 qubits, 16 repetitions, exact
  ``<Z...Z>``; about 3 s of single-threaded simulation each, the same for every point; 20 qubits
  took 1.4 s once the simulator got faster, below the goal's 2 s per point):
  ``hydra/launcher=joblib hydra.launcher.n_jobs=2`` against the basic launcher, both tracked.
  Goal: speed-up (basic / joblib) >= 1.6 on 2 cores.
* ``help_vs_import``: ``qrt-run --help`` against ``python -c "import hydra, qiskit"``. Goal <= 1.5.

The table shows medians over the repeats; the load average is printed with it (above ~1.5 on 2
cores the wall-clock ratios are noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
QRT_RUN = str(BIN / "qrt-run")

# The store exists before a tracked command is timed: creating a fresh sqlite store (MLflow's
# schema migrations, about 2 s) happens once per project folder, not once per sweep.
STORE = "from qrt_runner.tracking.mlflow_store import open_store; open_store('sqlite:///mlflow.db', 'qrt_runner')"

RAW_LOOP = """
import sys
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2
qubits, depth = int(sys.argv[1]), int(sys.argv[2])
backend = AerSimulator()
estimator = EstimatorV2(options={"backend_options": {"max_parallel_threads": 1}, "default_precision": 0})
observable = SparsePauliOp("Z" * qubits)
for seed in range(1, int(sys.argv[3]) + 1):
    circuit = random_circuit(qubits, depth, max_operands=2, seed=seed)
    isa = generate_preset_pass_manager(optimization_level=2, backend=backend, seed_transpiler=seed).run(circuit)
    print(seed, estimator.run([(isa, observable.apply_layout(isa.layout))]).result()[0].data.evs)
"""


def _random_points(qubits: int, depth: int, count: int = 8) -> list[str]:
    return [
        "circuit=random",
        f"circuit.num_qubits={qubits}",
        f"circuit.depth={depth}",
        "observables=paulis",
        f"observables.terms=[{'Z' * qubits}]",
        "primitive.default_precision=0",
        "backend.max_parallel_threads=1",
        "seed=" + ",".join(str(seed) for seed in range(1, count + 1)),
    ]


def _su2_points(qubits: int, reps: int) -> list[str]:
    return [
        "circuit=efficient_su2",
        f"circuit.num_qubits={qubits}",
        f"circuit.reps={reps}",
        "observables=paulis",
        f"observables.terms=[{'Z' * qubits}]",
        "primitive.default_precision=0",
        "backend.max_parallel_threads=1",
        "seed=1,2,3,4,5,6,7,8",
    ]


def _timed(command: list[str]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        if command[0] == QRT_RUN and "tracking=none" not in command and "--help" not in command:
            subprocess.run([sys.executable, "-c", STORE], cwd=folder, check=True, capture_output=True)
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=folder, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat, smaller points")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    small, large = ((14, 20), (16, 8)) if args.quick else ((19, 40), (21, 16))
    commands = {
        "raw loop (8 jobs)": [sys.executable, "-c", RAW_LOOP, str(small[0]), str(small[1]), "8"],
        "raw loop (1 job)": [sys.executable, "-c", RAW_LOOP, str(small[0]), str(small[1]), "1"],
        "qrt basic, tracked": [QRT_RUN, "-m", *_random_points(*small)],
        "qrt basic, tracked, 1 point": [QRT_RUN, "-m", *_random_points(*small, count=1)],
        "qrt basic, tracking=none": [QRT_RUN, "-m", *_random_points(*small), "tracking=none"],
        "qrt basic, tracking=none, 1 point": [QRT_RUN, "-m", *_random_points(*small, count=1), "tracking=none"],
        "qrt basic, 8 CPU-bound": [QRT_RUN, "-m", *_su2_points(*large)],
        "qrt joblib n_jobs=2, 8 CPU-bound": [
            QRT_RUN,
            "-m",
            *_su2_points(*large),
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
        ],
        "import hydra, qiskit": [sys.executable, "-c", "import hydra, qiskit"],
        "qrt-run --help": [QRT_RUN, "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):  # interleaved, so drifting load hits every command alike
        for name, command in commands.items():
            times[name].append(_timed(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; medians of {repeats} run(s)")
    print(f"{'command':<36} {'median s':>9}  runs")
    for name, values in times.items():
        print(f"{name:<36} {median[name]:>9.2f}  {', '.join(f'{v:.2f}' for v in values)}")

    def per_point(name: str) -> float:
        return (median[name] - median[f"{name}, 1 point"]) / 7

    raw_point = (median["raw loop (8 jobs)"] - median["raw loop (1 job)"]) / 7
    for name in ("qrt basic, tracked", "qrt basic, tracking=none"):
        print(
            f"{name}: {per_point(name):.3f} s per point against {raw_point:.3f} s in the raw loop "
            f"({per_point(name) - raw_point:+.3f} s); start-up {median[name + ', 1 point'] - per_point(name):.2f} s "
            f"against {median['raw loop (1 job)'] - raw_point:.2f} s"
        )
    ratios = [
        ("basic_vs_loop per point, tracked", per_point("qrt basic, tracked") / raw_point, "<= 1.3"),
        ("basic_vs_loop per point, tracking=none", per_point("qrt basic, tracking=none") / raw_point, "(no goal)"),
        (
            "basic_vs_loop whole command, tracked",
            median["qrt basic, tracked"] / median["raw loop (8 jobs)"],
            "(no goal)",
        ),
        (
            "joblib_vs_basic speed-up",
            median["qrt basic, 8 CPU-bound"] / median["qrt joblib n_jobs=2, 8 CPU-bound"],
            ">= 1.6",
        ),
        ("help_vs_import", median["qrt-run --help"] / median["import hydra, qiskit"], "<= 1.5"),
    ]
    for name, value, goal in ratios:
        print(f"ratio {name} {value:.2f} (goal {goal})")


if __name__ == "__main__":
    main()

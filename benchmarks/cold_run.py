"""A one-off ``qrt-run`` as a fresh process, against the hand-written script with IBM's client-side Estimator.

Run it with ``.venv/bin/python benchmarks/cold_run.py`` (``--repeats N``, default 5;
``--breakdown-runs N``, default 3, 0 for none; ``--device fake_manila``; ``--qubits 5``;
``--shots 8192``; ``--fresh-store``: every qrt run gets a new, empty tracking store;
``--early-start-off VALUE``, repeatable: also qrt-run with ``QRT_NO_EARLY_START=VALUE``, timed
interleaved with the others and broken down the same way, to measure what the early starts of
:mod:`qrt_runner.runs.warm` save: ``1`` neither the tracking helper process nor the device warm-up,
``tracking`` no helper, ``device`` no warm-up; ``--all-plugins``: also qrt-run with
``QRT_TRANSPILER_PLUGINS=all``, every installed transpiler plugin loaded as Qiskit loads them, to
measure what :mod:`qrt_runner.execution.plugins` saves).

Both sides are timed from outside, each run a new process started from this one, from just before
it starts to its exit (interpreter start-up, imports and set-up included), N times each and
interleaved (qrt, IBM, qrt, IBM, ...) so that a drift of the machine's speed hits both alike:

* **qrt**: ``qrt-run`` with tracking on (MLflow, a sqlite store in a temporary folder; the store
  is created by one untimed run first, as a user's ``mlflow.db`` exists after the first run,
  unless ``--fresh-store``), ``mitigation=level2`` on ``circuit=ghz`` with 5 qubits on
  ``backend=fake_manila``, ``primitive.default_shots=8192``, the observables ``ZZZZZ``, ``XXXXX``
  and ``ZZIII + IIIZZ``, ``transpile.optimization_level=1``.
* **IBM**: the same written by hand: the GHZ circuit, transpiled by
  ``generate_preset_pass_manager(optimization_level=1, backend=FakeManilaV2())``, the observables
  laid out on it, and ``qiskit_ibm_runtime.executor_estimator.Estimator(mode=FakeManilaV2(),
  options={"resilience_level": 2, "default_shots": 8192, ...})``; it prints the values.

Both sides use the same seeds (transpiler and simulator 1234) and the same randomisations: 32 of
256 shots for the twirled circuits and for the TREX calibration (IBM's defaults would draw 128 of
64; the options are those :mod:`benchmarks.mitigation` uses). Aer's threads are left at each
side's default: the CLI's ``backend.max_parallel_threads=0`` (all cores) and Aer's own default
(all cores) under IBM's Estimator. ``python -c pass`` is timed too, as the floor of any process.

The **breakdown** comes from ``--breakdown-runs`` more qrt runs (not in the table above), each
with a ``sitecustomize`` module on ``PYTHONPATH`` that wraps the functions of the run's steps
(Hydra's composition, the checks, device, transpilation, the simulator process's start, the
simulation and its noise model, tracking and the records) and times the first import of the big
libraries, in the ``qrt-run`` process and in its simulator process alike; the medians over the
runs are printed, each step with its start (seconds after the process was started) and its
duration, nested steps indented, per process and thread. One IBM run is broken down the same way
(imports, transpilation, the Estimator's job).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

BIN = Path(sys.executable).parent
QRT_RUN = BIN / "qrt-run"
SEED = 1234
RANDOMIZATIONS = 32
TRACE_ENV = "QRT_COLD_RUN_TRACE"
NO_EARLY_START_ENV = "QRT_NO_EARLY_START"  # qrt_runner.runs.warm.NO_EARLY_START_ENV
PLUGINS_ENV = "QRT_TRANSPILER_PLUGINS"  # qrt_runner.execution.plugins.PLUGINS_ENV
QRT = "qrt-run (tracking on)"
IBM = "IBM executor_estimator script"

# Functions timed in a breakdown run: module -> attributes ("Class.method" for methods). A name
# that a module no longer has is skipped. Every function is wrapped when its module is first
# imported, before any other module can bind it by name.
TIMED = {
    "qrt_runner.launch.hydra_run": ["run_hydra", "exit_now"],
    "qrt_runner.runs.point": ["Point.from_hydra"],
    "qrt_runner.runs.prepare": ["prepare"],
    "qrt_runner.runs.check": ["check"],
    "qrt_runner.runs.track": ["new_tracker", "track"],
    "qrt_runner.runs.execute": ["execute"],
    "qrt_runner.runs.record": ["record", "_keep_record"],
    "qrt_runner.runs.output": ["print_summary"],
    "qrt_runner.config.compose": ["register_configs"],
    "hydra._internal.utils": ["_run_hydra"],
    "hydra._internal.hydra": ["Hydra.run", "Hydra.create_main_hydra2"],
    "hydra._internal.config_loader_impl": ["ConfigLoaderImpl.load_configuration"],
    "hydra.core.utils": ["run_job", "configure_log", "_save_config"],
    "qrt_runner.config.spec": ["build_spec", "resolve_config"],
    "qrt_runner.records.provenance": ["capture_inputs", "environment"],
    "qrt_runner.records.results": ["RunResult.write_json"],
    "qrt_runner.records.artifacts": ["write_run_artifacts"],
    "qrt_runner.records.plots": ["plot_zne", "plot_result"],
    "qrt_runner.tasks.workload": ["build_workload"],
    "qrt_runner.tasks.runner": ["run_experiment", "job_target"],
    "qrt_runner.tasks.capacity": ["check_capacity", "check_work_size"],
    "qrt_runner.execution.fake_backends": ["fake_backend"],
    "qrt_runner.execution.devices": ["device"],
    "qrt_runner.execution.backend": ["LocalBackend.create", "shared_compiler"],
    "qrt_runner.execution.transpile": ["IsaCompiler.compile"],
    "qrt_runner.execution.simulation.executor": [
        "ProcessExecutor.warm_up",
        "ProcessExecutor.run",
        "ProcessExecutor._await_ready",
        "ProcessExecutor.shutdown",
    ],
    "qrt_runner.execution.simulation.worker": ["serve"],
    "qrt_runner.execution.simulation.task": ["execute", "_run_group", "_prefix_states"],
    "qrt_runner.execution.simulation.aer_simulator": ["simulator"],
    "qrt_runner.execution.simulation.noise": ["restricted_noise_model"],
    "qrt_runner.primitives.estimator": ["Estimator.run"],
    "qrt_runner.tracking.tracker": ["RunTracker.start", "RunTracker.flush", "RunTracker.end"],
    "qrt_runner.tracking.mlflow_store": ["open_store"],
    "qrt_runner.tracking.remote": ["TrackingHelper.wait_ready"],
    "qrt_runner.runs.warm": ["start_tracking_helper", "warm_device"],
    "qrt_runner.tracking.record": ["record_result"],
    "qrt_runner.background": ["drain"],
    # IBM's side
    "qiskit.transpiler.preset_passmanagers.generate_preset_pass_manager": ["generate_preset_pass_manager"],
    "qiskit.transpiler.passmanager": ["StagedPassManager.run"],
    "qiskit_ibm_runtime.executor_estimator.estimator": ["Estimator.run"],
    "qiskit_ibm_runtime.fake_provider.local_service": ["QiskitRuntimeLocalService._run"],
    "qiskit_aer.noise.noise_model": ["NoiseModel.from_backend"],
    "qiskit_aer.backends.aerbackend": ["AerBackend._execute_circuits_job"],
}
# Libraries whose first import is timed (inclusive of what they import that was not loaded yet).
IMPORTS = (
    "qrt_runner",
    "qrt_runner.cli.app",
    "hydra",
    "omegaconf",
    "numpy",
    "scipy",
    "qiskit",
    "qiskit_aer",
    "qiskit_ibm_runtime",
    "qiskit_ibm_runtime.fake_provider",
    "mlflow.store.tracking.sqlalchemy_store",
    "qiskit_experiments",
    "mlflow",
    "sqlalchemy",
    "alembic",
    "matplotlib",
    "matplotlib.pyplot",
    "pandas",
    "pydantic",
    "requests",
    "sympy",
    "symengine",
)

# The sitecustomize of a breakdown run: it appends one JSON line per timed call to $QRT_COLD_RUN_TRACE.
SITECUSTOMIZE = r"""
import os
import sys
import time

_TRACE = os.environ.get("__TRACE_ENV__")
if _TRACE:
    import functools
    import importlib.abc
    import json
    import threading

    _TIMED = json.loads(__TIMED__)
    _IMPORTS = set(json.loads(__IMPORTS__))
    _PID = os.getpid()
    if "QRT_SIMULATOR_SYS_PATH" in os.environ:  # set by the run for its simulator process only
        _ROLE = "simulator"
    elif "QRT_TRACKING_SYS_PATH" in os.environ:  # and for its tracking helper
        _ROLE = "tracking helper"
    else:
        _ROLE = "main"
    _depth = threading.local()

    def _emit(kind, label, start, end):
        line = json.dumps(
            {
                "pid": _PID,
                "thread": threading.current_thread().name,
                "kind": kind,
                "label": label,
                "start": start,
                "end": end,
                "depth": getattr(_depth, "value", 0),
            }
        )
        fd = os.open(_TRACE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    _emit("process", _ROLE, time.time(), time.time())

    def _timed(function, label):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.time()
            level = getattr(_depth, "value", 0)
            _depth.value = level + 1
            try:
                return function(*args, **kwargs)
            finally:
                _depth.value = level
                _emit("call", label, start, time.time())

        return wrapper

    def _patch(module):
        for path in _TIMED.get(module.__name__, ()):
            owner_name, _, attr = path.rpartition(".")
            owner = getattr(module, owner_name, None) if owner_name else module
            if owner is None:
                continue
            raw = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
            if raw is None:
                continue
            label = f"{module.__name__}.{path}"
            if isinstance(raw, classmethod):
                setattr(owner, attr, classmethod(_timed(raw.__func__, label)))
            elif isinstance(raw, staticmethod):
                setattr(owner, attr, staticmethod(_timed(raw.__func__, label)))
            elif callable(raw):
                setattr(owner, attr, _timed(raw, label))

    class _Loader(importlib.abc.Loader):
        def __init__(self, loader, name):
            self._loader, self._name = loader, name

        def create_module(self, spec):
            return self._loader.create_module(spec)

        def exec_module(self, module):
            start = time.time()
            level = getattr(_depth, "value", 0)
            _depth.value = level + 1
            try:
                self._loader.exec_module(module)
            finally:
                _depth.value = level
                if self._name in _IMPORTS:
                    _emit("import", self._name, start, time.time())
            _patch(module)

        def __getattr__(self, name):
            return getattr(self._loader, name)

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name not in _TIMED and name not in _IMPORTS:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = _Loader(spec.loader, name)
                    return spec
            return None

    sys.meta_path.insert(0, _Finder())
"""


def device_class(device: str) -> str:
    """``fake_manila`` -> ``FakeManilaV2`` (the class of ``qiskit_ibm_runtime.fake_provider``)."""
    return "Fake" + "".join(part.capitalize() for part in device.removeprefix("fake_").split("_")) + "V2"


def observables(qubits: int) -> list[str]:
    """The observables of both sides: Z...Z, X...X and Z_{n-1} Z_{n-2} + Z_1 Z_0."""
    pair = "ZZ" + "I" * (qubits - 2)
    return ["Z" * qubits, "X" * qubits, f"{pair} + {pair[::-1]}"]


def qrt_command(args, folder: Path, store: Path, index: int, executable: Path = QRT_RUN) -> list[str]:
    per = -(-args.shots // RANDOMIZATIONS)
    terms = ",".join(f'"{term}"' if " " in term else term for term in observables(args.qubits))
    return [
        str(executable),
        f"backend={args.device}",
        "mitigation=level2",
        "circuit=ghz",
        f"circuit.num_qubits={args.qubits}",
        "observables=paulis",
        f"observables.terms=[{terms}]",
        f"primitive.default_shots={args.shots}",
        "transpile.optimization_level=1",
        f"seed={SEED}",
        f"mitigation.twirling.num_randomizations={RANDOMIZATIONS}",
        f"mitigation.twirling.shots_per_randomization={per}",
        f"mitigation.resilience.measure_noise_learning.num_randomizations={RANDOMIZATIONS}",
        f"mitigation.resilience.measure_noise_learning.shots_per_randomization={per}",
        "tracking=mlflow",
        f"tracking.uri=sqlite:///{store}",
        "tracking.experiment_name=cold_run",
        f"hydra.run.dir={folder / 'runs' / str(index)}",
    ]


IBM_SCRIPT = """\
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime.executor_estimator import Estimator
from qiskit_ibm_runtime.fake_provider import {device_class}

circuit = QuantumCircuit({qubits})
circuit.h(0)
for qubit in range({qubits} - 1):
    circuit.cx(qubit, qubit + 1)
labels = {labels!r}
observables = [SparsePauliOp.from_list([(term.strip(), 1) for term in label.split("+")]) for label in labels]

backend = {device_class}()
isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler={seed}).run(circuit)
options = {{
    "resilience_level": 2,
    "default_shots": {shots},
    "twirling": {{"num_randomizations": {randomizations}, "shots_per_randomization": {per}}},
    "resilience": {{"measure_noise_learning": {{"num_randomizations": {randomizations}}}}},
    "simulator": {{"seed_simulator": {seed}}},
}}
estimator = Estimator(mode=backend, options=options)
pub = (isa, [observable.apply_layout(isa.layout) for observable in observables])
data = estimator.run([pub]).result()[0].data
for label, value, std in zip(labels, data.evs, data.stds):
    print(f"<{{label}}> = {{value:+.4f}} ± {{std:.4f}}")
"""


def ibm_script(args) -> str:
    return IBM_SCRIPT.format(
        device_class=device_class(args.device),
        qubits=args.qubits,
        labels=observables(args.qubits),
        seed=SEED,
        shots=args.shots,
        randomizations=RANDOMIZATIONS,
        per=-(-args.shots // RANDOMIZATIONS),
    )


def run_timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, str]:
    """Start ``command``, wait for its exit; (start time, wall seconds, output). Raises on failure."""
    start = time.time()
    began = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return start, wall, done.stdout + done.stderr


def values_of(output: str) -> str:
    """The ``<label> = value ± std`` lines of a run's output, joined."""
    return "; ".join(line.strip() for line in output.splitlines() if line.strip().startswith("<"))


def median_line(name: str, walls: list[float]) -> str:
    return f"  {name:<40} {statistics.median(walls):8.2f} {min(walls):8.2f} {max(walls):8.2f}   {len(walls)}"


# ---------------------------------------------------------------- breakdown


def traced_run(
    command: list[str], cwd: Path, site: Path, trace: Path, extra_env: dict | None = None
) -> tuple[float, float, list[dict]]:
    env = {**os.environ, **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    env[TRACE_ENV] = str(trace)
    trace.unlink(missing_ok=True)
    start, wall, _ = run_timed(command, cwd, env)
    events = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
    return start, wall, events


def write_site(folder: Path) -> Path:
    site = folder / "site"
    site.mkdir(exist_ok=True)
    text = (
        SITECUSTOMIZE.replace("__TRACE_ENV__", TRACE_ENV)
        .replace("__TIMED__", repr(json.dumps(TIMED)))
        .replace("__IMPORTS__", repr(json.dumps(list(IMPORTS))))
    )
    (site / "sitecustomize.py").write_text(text)
    return site


def rows_of(start: float, wall: float, events: list[dict]) -> dict[tuple, tuple[float, float, int]]:
    """Per (process, thread, kind, label, occurrence): (start offset, duration, depth)."""
    roles = {e["pid"]: e["label"] for e in events if e["kind"] == "process"}
    rows: dict[tuple, tuple[float, float, int]] = {}
    seen: dict[tuple, int] = defaultdict(int)
    for e in sorted(events, key=lambda e: (e["start"], -e["end"])):
        if e["kind"] == "process":
            key = (roles[e["pid"]], "MainThread", "process", "interpreter start-up", 0)
            rows[key] = (0.0 if e["label"] == "main" else None, e["start"] - start, 0)  # type: ignore[assignment]
            continue
        base = (roles.get(e["pid"], str(e["pid"])), _thread(e["thread"]), e["kind"], e["label"])
        occurrence = seen[base]
        seen[base] += 1
        rows[(*base, occurrence)] = (e["start"] - start, e["end"] - e["start"], e["depth"])
    rows[("main", "MainThread", "process", "exit", 0)] = (wall, 0.0, 0)
    return rows


def _thread(name: str) -> str:
    """A thread's name without its running number (``qrt-job-3`` -> ``qrt-job``)."""
    return name.split(" ")[0].split("(")[0].rstrip("-_0123456789") or name


_RUN = "qrt_runner.runs."  # + "<module>.<function>"
_EXECUTOR = "qrt_runner.execution.simulation.executor.ProcessExecutor."
_AER_CALL = "qiskit_aer.backends.aerbackend.AerBackend._execute_circuits_job"


def _calls(rows: dict, label: str, role: str = "main", thread: str | None = "MainThread") -> list[tuple[float, float]]:
    """(start, duration) of every timed call of ``label`` in one run, in order."""
    found = [
        value
        for key, value in rows.items()
        if key[0] == role and (thread is None or key[1] == thread) and key[3] == label and value[0] is not None
    ]
    return sorted((at, took) for at, took, _ in found)


def _span(rows: dict, begin: str, end: str) -> float | None:
    """From the start of the first call of ``begin`` to the end of the first call of ``end`` (main thread)."""
    first, last = _calls(rows, begin), _calls(rows, end)
    return last[0][0] + last[0][1] - first[0][0] if first and last else None


def _took(rows: dict, label: str, role: str = "main", thread: str | None = "MainThread") -> float | None:
    calls = _calls(rows, label, role, thread)
    return sum(took for _, took in calls) if calls else None


def _in_job(rows: dict, label: str, role: str, thread: str | None) -> float | None:
    """The time of the calls of ``label`` that start after the job was submitted (Estimator.run)."""
    job = _calls(rows, "qrt_runner.primitives.estimator.Estimator.run")
    if not job:
        return None
    return sum(took for at, took in _calls(rows, label, role, thread) if at >= job[0][0])


def _start_up(rows: dict) -> float | None:
    value = rows.get(("main", "MainThread", "process", "interpreter start-up", 0))
    return value[1] if value else None


def _before_hydra(rows: dict) -> float | None:
    hydra, up = _calls(rows, "hydra._internal.utils._run_hydra"), _start_up(rows)
    return hydra[0][0] - up if hydra and up is not None else None


def _exit(rows: dict) -> float | None:
    record, end = _calls(rows, _RUN + "record.record"), rows.get(("main", "MainThread", "process", "exit", 0))
    return end[0] - (record[0][0] + record[0][1]) if record and end else None


# The steps of a qrt run (main thread, one after another, unless indented: a part of the step above).
STEPS = [
    ("interpreter start-up", _start_up),
    ("imports before Hydra starts (qrt_runner.cli, hydra, qiskit, config schemas)", _before_hydra),
    ("Hydra: config composition (twice: mode, then run), run directory, logging", lambda rows: _hydra(rows)),
    ("checks and device (prepare)", lambda rows: _took(rows, _RUN + "prepare.prepare")),
    (
        "  of which the fake device (from the device cache; else import qiskit_ibm_runtime)",
        lambda rows: _took(rows, "qrt_runner.execution.devices.device"),
    ),
    (
        "tracking: open the store, create the run, params and config (track)",
        lambda rows: _took(rows, _RUN + "track.track"),
    ),
    (
        "  overlapped before it, in the tracking helper process: import mlflow and its SQL store",
        lambda rows: _sum(
            _took(rows, "mlflow", "tracking helper", None),
            _took(rows, "mlflow.store.tracking.sqlalchemy_store", "tracking helper", None),
        ),
    ),
    (
        "  overlapped, in the simulator process: its imports and the device warm-up",
        lambda rows: _before_job(rows, "simulator"),
    ),
    (
        "waiting for the simulator process before transpiling (executor lock)",
        lambda rows: _in_run_experiment(rows, _EXECUTOR + "warm_up"),
    ),
    ("transpilation: pass manager and transpile", lambda rows: _transpile(rows)),
    (
        "  of which building the pass manager (with Qiskit's own plugins only: QRT_TRANSPILER_PLUGINS)",
        lambda rows: _took(rows, "qrt_runner.execution.backend.shared_compiler"),
    ),
    ("the job (Estimator.run to its result)", lambda rows: _job(rows)),
    (
        "  of which the simulator process builds its simulator (device, noise model)",
        lambda rows: _in_job(
            rows, "qrt_runner.execution.simulation.aer_simulator.simulator", "simulator", "MainThread"
        ),
    ),
    ("  of which Aer runs", lambda rows: _in_job(rows, _AER_CALL, "simulator", None)),
    ("records: results.json, plots, MLflow upload and end (record)", lambda rows: _took(rows, _RUN + "record.record")),
    (
        "  of which plots and circuit files",
        lambda rows: _took(rows, "qrt_runner.records.artifacts.write_run_artifacts"),
    ),
    ("exit (simulator process stopped, atexit)", _exit),
]


def _sum(*parts: float | None) -> float | None:
    return sum(part for part in parts if part is not None) if any(part is not None for part in parts) else None


def _before_job(rows: dict, role: str) -> float | None:
    """Busy time of ``role``'s main thread before the job was submitted: from its start-up to
    the end of its last timed call that started before the job (its imports and warm-up)."""
    submitted = _calls(rows, "qrt_runner.primitives.estimator.Estimator.run")
    up = rows.get((role, "MainThread", "process", "interpreter start-up", 0))
    if not submitted or up is None:
        return None
    calls = [
        (at, took)
        for key, (at, took, depth) in rows.items()
        if key[0] == role
        and key[1] == "MainThread"
        and key[2] in ("call", "import")
        and at is not None
        and at < submitted[0][0]
        and key[3] != "qrt_runner.execution.simulation.worker.serve"
    ]
    return max(at + took for at, took in calls) - up[1] if calls else None


def _hydra(rows: dict) -> float | None:
    hydra, prepare = _calls(rows, "hydra._internal.utils._run_hydra"), _calls(rows, _RUN + "prepare.prepare")
    return prepare[0][0] - hydra[0][0] if hydra and prepare else None


def _job(rows: dict) -> float | None:
    submitted = _calls(rows, "qrt_runner.primitives.estimator.Estimator.run")
    ran = _calls(rows, _EXECUTOR + "run", "main", "qrt-job")
    return ran[-1][0] + ran[-1][1] - submitted[0][0] if submitted and ran else None


def _in_run_experiment(rows: dict, label: str) -> float | None:
    run = _calls(rows, "qrt_runner.tasks.runner.run_experiment")
    if not run:
        return None
    start, took = run[0]
    return sum(t for at, t in _calls(rows, label) if start <= at <= start + took)


def _transpile(rows: dict) -> float | None:
    parts = [
        _took(rows, "qrt_runner.execution.backend.shared_compiler"),
        _took(rows, "qrt_runner.execution.transpile.IsaCompiler.compile"),
    ]
    return sum(part for part in parts if part is not None) if any(part is not None for part in parts) else None


def print_steps(per_run: list[dict]) -> None:
    """The steps of a qrt run (:data:`STEPS`), medians over the runs."""
    print("  steps (median seconds; steps without indent follow one another in the qrt-run process):")
    for name, measure in STEPS:
        values = [measure(rows) for rows in per_run]
        if all(value is not None for value in values):
            print(f"    {statistics.median(values):6.3f}  {name}")  # type: ignore[type-var]


def print_breakdown(title: str, traced: list[tuple[float, float, list[dict]]], steps: bool = False) -> None:
    per_run = [rows_of(*run) for run in traced]
    keys = [key for key in per_run[0] if all(key in rows for rows in per_run)]
    walls = [wall for _, wall, _ in traced]
    print(f"\n{title}: median over {len(traced)} instrumented run(s), wall {statistics.median(walls):.2f} s")
    if steps:
        print_steps(per_run)
    print("  timeline (at: seconds after the process was started; took: the call's duration; nested calls indented):")
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for key in keys:
        groups[key[:2]].append(key)
    for (role, thread), members in sorted(groups.items(), key=lambda item: (item[0][0] != "main", item[0])):
        print(f"  [{role} process, {thread}]")
        members.sort(key=lambda k: statistics.median(rows[k][0] or 0.0 for rows in per_run))
        for key in members:
            at = statistics.median((rows[key][0] if rows[key][0] is not None else 0.0) for rows in per_run)
            took = statistics.median(rows[key][1] for rows in per_run)
            depth = per_run[0][key][2]
            kind, label = key[2], key[3]
            if kind == "process":
                if label == "exit":
                    print(f"    at {at:6.2f}             process exit")
                else:
                    print(f"    at {took:6.2f}             interpreter up (sitecustomize)")
                continue
            if kind == "call" and took < 0.005:
                continue
            if kind == "import" and took < 0.02:
                continue
            name = f"import {label}" if kind == "import" else label
            print(f"    at {at:6.2f}  took {took:6.3f}  {'  ' * depth}{name}")


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side (default 5)")
    parser.add_argument("--breakdown-runs", type=int, default=3, help="instrumented qrt runs (default 3; 0: none)")
    parser.add_argument("--device", default="fake_manila", help="a fake device with enough qubits (fake_manila)")
    parser.add_argument("--qubits", type=int, default=5, help="GHZ width (default 5)")
    parser.add_argument("--shots", type=int, default=8192, help="default_shots (default 8192)")
    parser.add_argument("--fresh-store", action="store_true", help="a new, empty tracking store for every qrt run")
    parser.add_argument("--no-ibm", action="store_true", help="time qrt-run only")
    parser.add_argument(
        "--early-start-off",
        action="append",
        default=[],
        metavar="VALUE",
        help=f"also time (and break down) qrt-run with {NO_EARLY_START_ENV}=VALUE (repeatable): 1 (no tracking helper "
        "process, no device warm-up), tracking (no helper) or device (no warm-up)",
    )
    parser.add_argument(
        "--all-plugins",
        action="store_true",
        help=f"also time (and break down) qrt-run with {PLUGINS_ENV}=all: every installed transpiler plugin loaded, "
        "as Qiskit loads them (qrt-run loads only Qiskit's own)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another qrt-run executable (a checkout before a change, in a venv with the same packages), timed "
        "interleaved with the others",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="qrt-cold-run-"))
    work = folder / "work"  # the working directory of every run (no module beside it shadows one)
    work.mkdir()
    script = folder / "ibm_estimator.py"
    script.write_text(ibm_script(args))
    store = folder / "mlflow.db"
    load = os.getloadavg()
    print(
        f"cold runs: {args.qubits}-qubit GHZ on {args.device}, resilience level 2, {args.shots} shots, "
        f"{len(observables(args.qubits))} observables; {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f}"
    )
    print(
        "  Aer threads: each side's default (qrt-run: backend.max_parallel_threads=0, all cores; "
        "IBM's Estimator: Aer's default, all cores)"
    )
    print(
        f"  qrt-run tracking: MLflow, sqlite store in {folder} ({'new for every run' if args.fresh_store else 'created by an untimed run first'})"
    )

    index = 0

    variants = {f"qrt-run, {NO_EARLY_START_ENV}={value}": {NO_EARLY_START_ENV: value} for value in args.early_start_off}
    if args.all_plugins:
        variants[f"qrt-run, {PLUGINS_ENV}=all"] = {PLUGINS_ENV: "all"}

    def qrt_once(executable: Path = QRT_RUN, env: dict | None = None) -> tuple[float, float, str]:
        nonlocal index
        index += 1
        db = folder / f"fresh-{index}.db" if args.fresh_store else store
        return run_timed(qrt_command(args, folder, db, index, executable), work, env)

    # untimed warm-up of each side: creates the store, fills the operating system's file cache
    qrt_first = qrt_once()
    baseline_first = qrt_once(args.baseline) if args.baseline else None
    ibm_first = None if args.no_ibm else run_timed([sys.executable, str(script)], work)
    walls: dict[str, list[float]] = defaultdict(list)
    outputs: dict[str, str] = {"qrt": values_of(qrt_first[2])}
    if ibm_first is not None:
        outputs["ibm"] = values_of(ibm_first[2])
    variant_values: dict[str, str] = {}
    for _ in range(args.repeats):
        walls[QRT].append(qrt_once()[1])
        for name, value in variants.items():
            _, wall, output = qrt_once(env={**os.environ, **value})
            walls[name].append(wall)
            variant_values[name] = values_of(output)
        if args.baseline:
            walls["baseline qrt-run"].append(qrt_once(args.baseline)[1])
        if not args.no_ibm:
            walls[IBM].append(run_timed([sys.executable, str(script)], work)[1])
        walls["python -c pass"].append(run_timed([sys.executable, "-c", "pass"], work)[1])
    print(f"  first (untimed) run, qrt: {qrt_first[1]:.2f} s, {outputs['qrt']}")
    for name, found in variant_values.items():
        print(f"  {name}: {'the same values' if found == outputs['qrt'] else f'OTHER VALUES: {found}'}")
    if baseline_first is not None:
        print(f"  first (untimed) run, baseline qrt: {baseline_first[1]:.2f} s, {values_of(baseline_first[2])}")
        print(f"  baseline: {args.baseline}")
    if ibm_first is not None:
        print(f"  first (untimed) run, IBM: {ibm_first[1]:.2f} s, {outputs['ibm']}")
    print(f"\nwall seconds of a fresh process, {args.repeats} runs per side, interleaved")
    print(f"  {'':<40} {'median':>8} {'min':>8} {'max':>8}   runs")
    for name, times in walls.items():
        print(median_line(name, times))
    qrt = statistics.median(walls[QRT])
    for name in variants:
        print(f"  {name}: {statistics.median(walls[name]) - qrt:+.2f} s against qrt-run (medians)")
    if not args.no_ibm:
        ibm = statistics.median(walls[IBM])
        print(f"  ratio qrt / IBM (medians): {qrt / ibm:.2f}")
        for name in variants:
            print(f"  ratio {name} / IBM (medians): {statistics.median(walls[name]) / ibm:.2f}")
        if args.baseline:
            print(f"  ratio baseline qrt / IBM (medians): {statistics.median(walls['baseline qrt-run']) / ibm:.2f}")
    load = os.getloadavg()
    print(f"  load after: {load[0]:.2f} {load[1]:.2f}")

    if args.breakdown_runs > 0:
        site = write_site(folder)
        trace = folder / "trace.jsonl"
        traced = [
            traced_run(qrt_command(args, folder, store, 1000 + k), work, site, trace)
            for k in range(args.breakdown_runs)
        ]
        print_breakdown("qrt-run breakdown", traced, steps=True)
        for number, (name, value) in enumerate(variants.items(), start=2):
            traced_off = [
                traced_run(qrt_command(args, folder, store, 1000 * number + k), work, site, trace, value)
                for k in range(args.breakdown_runs)
            ]
            print_breakdown(f"{name} breakdown", traced_off, steps=True)
        if not args.no_ibm:
            print_breakdown("IBM script breakdown", [traced_run([sys.executable, str(script)], work, site, trace)])
    if args.keep:
        print(f"\nkept: {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Utility-scale simulation: the method qrt_runner chooses, its time and memory, against raw Aer.

Run it with ``.venv/bin/python benchmarks/scaling.py`` (widths 10 20 50 100 127, kicked-Ising steps
1 5 20, 3 repeats); ``--quick`` is a smoke test (under 2 minutes): 6 rows, GHZ and the Clifford
estimator at 50 qubits, the other two cases at 10 and 50 (every method qrt_runner picks here),
steps 1, 1 repeat, 256 shots. Options: ``--widths 10 50``, ``--steps 1 5``, ``--repeats N``
(median), ``--shots N`` (default 1024: sampler shots, and shots per basis of the noisy
estimator), ``--threads N`` (Aer threads on both sides, default 1), ``--timeout S`` (default 300,
per repeat of a case), ``--budget S`` (default 60: stop repeating a row once its repeats took this long),
``--cases ghz,ki_clifford,ki_03,ki_pauli``, ``--optimization-level``, ``--raw-refused`` (run the raw
side of rows qrt refused too), ``--gpu`` (also Aer's GPU statevector, where a GPU build is there).

Cases, for every width (qubits) and, for the kicked-Ising circuit
(``qrt_runner.workload.kicked_ising``: ``steps`` steps of ``rx(theta)`` on every qubit and
``rzz(-pi/2)`` on every edge of a connected patch of fake_sherbrooke's heavy-hex graph, observed
through ``kicked_ising_observables``: Z on 3 single sites and a weight-10 Z product), every depth:

* ``ghz``: GHZ sampler (h, a chain of cx, measure_all), ideal (``backend=aer``), ``--shots`` shots.
  raw: ``qiskit_aer.primitives.SamplerV2``.
* ``ki_clifford``: kicked Ising at theta = pi/2 (Clifford), ideal, exact values
  (``primitive.default_precision=0``). raw: ``qiskit_aer.primitives.EstimatorV2`` (precision 0).
* ``ki_03``: kicked Ising at theta = 0.3 (not Clifford), ideal, exact values. raw: as above.
* ``ki_pauli``: kicked Ising at theta = pi/2 on ``backend=fake_sherbrooke backend.noise=pauli``
  (the device's Pauli-twirled noise), ``mitigation=none``, ``--shots`` shots (one basis: every
  observable is a Z string). raw: a hand-written estimator: transpile for FakeSherbrooke on the
  patch (``initial_layout``), keep the qubits the circuit uses, measure the qubits the observables
  touch, ``AerSimulator(noise_model=pauli_noise_model(device, qubits)).run`` (the noise model is
  qrt_runner's: Aer has no Pauli form of a device's noise), parities from the counts.

The raw side runs the method qrt_runner chose (same method, same circuit, same seeds, same shots,
same Aer threads: ``backend.max_parallel_threads`` = ``max_parallel_threads``), so the ratio is
qrt_runner's overhead on the same simulation. For the stabilizer method the raw side transpiles to
the gates Aer's stabilizer method accepts and rewrites ``rz`` at multiples of pi/2 as ``s``, ``z``
or ``sdg`` (Aer refuses ``rx``, ``rzz``, and ``rz`` a rounding error away from a multiple of
pi/2); a circuit made of gates the simulator runs natively is not transpiled (qrt_runner does not
transpile an ISA circuit either). Both sides transpile at ``--optimization-level`` (default 1;
at 2 and above both transpile a wide Clifford circuit again at level 1, as qrt_runner does,
because level 2's resynthesis leaves rotations off multiples of pi/2).

Each side of each row is a fresh Python process started from this one. It imports, runs a tiny
warm-up job (qrt: starts its simulator process), then repeats the work ``--repeats`` times:
qrt = ``build_workload(spec)`` (circuit, transpilation, method choice) + ``run_experiment``, with
``shared_compiler.cache_clear()`` before each (no transpile cache between repeats); raw = build
the circuit and observables, transpile, build the simulator or primitive, run, read the values.
Hydra's composition (qrt) and loading the fake device (raw) happen once, before timing. Times are
medians of wall-clock seconds. Memory is the peak RSS of the process tree (qrt: its driver and its
simulator process; raw: the one process): the concurrent sum of RSS sampled from /proc every
50 ms, or the largest single process's own high-water mark (VmHWM) if that is larger; ``sim`` is
qrt's simulator process's own high-water mark. Both include the interpreter and its imports
(printed below the table as the baseline, measured after the warm-up). ``d`` compares the values:
the largest |qrt - raw| over the observables (exact cases: ~1e-15; shot cases: a few standard
errors, 1/sqrt(shots)), for the sampler the difference of the probabilities of all-zeros.

A row that qrt_runner refuses (``CapacityError``: no method fits this machine) shows ``refused``
and the one-line reason; its qrt time is the time it took to refuse. A repeat that runs past
``--timeout`` is killed (the whole process tree) and the row shows ``timeout``; a tree whose RSS
passes ``--max-rss-gib`` (default 60 % of this machine's memory) is killed too.

A second table splits the medians: qrt ``prep`` (``build_workload`` and run_experiment's
transpilation), ``job`` (the job's run time, in qrt's simulator process), ``rest`` (the remainder:
submitting, results, records); raw ``prep`` (circuit, transpilation, noise model, primitive) and
``job`` (the Aer run). The header names qrt_runner's source (commit, changed files, newest edit)
and a warning follows the tables if it was edited while the benchmark ran. With ``--gpu`` and a
GPU build of Aer, each statevector row gets a raw row on ``device="GPU"`` (qrt_runner has no GPU
option); without one, a line says so and the GPU rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

SEED = 1234
SAMPLE_S = 0.05
# --quick: the widths of each case that show every method qrt_runner chooses; steps 1, 1 repeat, 256 shots
QUICK_WIDTHS = {"ghz": [50], "ki_clifford": [50], "ki_03": [10, 50], "ki_pauli": [10, 50]}
# Gates Aer's stabilizer method takes by name (rz only at multiples of pi/2, rewritten below).
STABILIZER_BASIS = ["cx", "cy", "cz", "ecr", "h", "id", "s", "sdg", "swap", "sx", "sxdg", "x", "y", "z", "rz"]
NOT_GATES = {"measure", "barrier", "delay"}
NO_GPU = "no GPU: Aer's GPU build (pip install qiskit-aer-gpu) not available here; GPU rows skipped"


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    sampler: bool
    theta: float | None  # None: the GHZ circuit (no steps)
    noisy: bool


CASES = (
    Case("ghz", "GHZ sampler, ideal", True, None, False),
    Case("ki_clifford", "KI pi/2 exact, ideal", False, math.pi / 2, False),
    Case("ki_03", "KI 0.3 exact, ideal", False, 0.3, False),
    Case("ki_pauli", "KI pi/2 sherbrooke pauli", False, math.pi / 2, True),
)
BY_KEY = {case.key: case for case in CASES}


# --------------------------------------------------------------------------------------------
# The worker: one side of one row, in its own process; it prints one JSON object per line.


def _emit(**event) -> None:
    print(json.dumps(event), flush=True)


def _kib(pid: int | None, field_name: str) -> int:
    """A ``/proc/<pid>/status`` memory field in KiB (0 if the process is gone)."""
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _qrt_overrides(job: dict) -> list[str]:
    case = BY_KEY[job["case"]]
    common = [
        "tracking=none",
        f"backend.max_parallel_threads={job['threads']}",
        f"transpile.optimization_level={job['optimization_level']}",
        f"seed={SEED}",
        f"circuit.num_qubits={job['width']}",
    ]
    if case.sampler:
        return ["experiment=ghz_sampler", "backend=aer", f"primitive.default_shots={job['shots']}", *common]
    out = ["circuit=kicked_ising", "observables=kicked_ising", "mitigation=none", *common]
    out += [f"circuit.steps={job['steps']}", f"circuit.theta={case.theta!r}"]
    if case.noisy:
        return [*out, "backend=fake_sherbrooke", "backend.noise=pauli", f"primitive.default_shots={job['shots']}"]
    return [*out, "backend=aer", "primitive.default_precision=0"]


def _qrt_worker(job: dict) -> None:
    from qrt_runner.config.compose import compose_spec
    from qrt_runner.errors import CapacityError
    from qrt_runner.execution.backend import shared_compiler
    from qrt_runner.execution.simulation.executor import default_executor
    from qrt_runner.tasks.runner import build_workload, run_experiment

    start = time.perf_counter()
    warm = compose_spec(["experiment=ghz_sampler", "backend=aer", "circuit.num_qubits=2", "primitive.default_shots=8"])
    run_experiment(warm)  # starts the simulator process and imports what a run needs
    executor = default_executor()
    sim_pid = executor.pid
    _emit(event="ready", warm_up_s=time.perf_counter() - start, sim_pid=sim_pid)
    spec = compose_spec(_qrt_overrides(job))
    spent = 0.0
    for _ in range(job["repeats"]):
        shared_compiler.cache_clear()
        t0 = time.perf_counter()
        try:
            workload = build_workload(spec)
        except CapacityError as exc:
            _emit(event="refused", seconds=time.perf_counter() - t0, message=str(exc))
            break
        t1 = time.perf_counter()
        result = run_experiment(spec, workload)
        seconds = time.perf_counter() - t0
        if result.status != "FINISHED":
            _emit(event="error", message=f"{result.status}: {result.error}")
            break
        if result.sampler is not None:
            counts = result.sampler.counts[0] or {}
            values = [counts.get("0" * job["width"], 0) / job["shots"]]
        else:
            values = [float(v) for v in result.estimator.evs.ravel()]
        _emit(
            event="repeat",
            seconds=seconds,
            values=values,
            choice=workload.simulation,
            note=result.transpiled.get("note", ""),
            parts={
                "prepare": t1 - t0 + result.timings.get("time_transpile_s", 0.0),
                "job": sum(j.usage_s for j in result.jobs),
            },
        )
        spent += seconds
        sim_pid = executor.pid or sim_pid
        if spent > job["budget"]:
            break
    _emit(
        event="done",
        self_hwm=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        sim_hwm=_kib(executor.pid, "VmHWM"),
        ended_children=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )


def _stabilizer_form(circuit):
    """``rz`` at multiples of pi/2 as ``s``, ``z``, ``sdg`` (or nothing): Aer's stabilizer method
    refuses an ``rz`` a rounding error away from one. Raises ValueError on a non-Clifford angle."""
    from qiskit.circuit.library import SdgGate, SGate, ZGate

    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.operation.name != "rz":
            out.append(instruction)
            continue
        quarter_turns = float(instruction.operation.params[0]) / (math.pi / 2)
        k = round(quarter_turns)
        if abs(quarter_turns - k) > 1e-9:
            raise ValueError(f"rz({instruction.operation.params[0]}) is not Clifford")
        gate = {0: None, 1: SGate(), 2: ZGate(), 3: SdgGate()}[k % 4]
        if gate is not None:
            out.append(gate, instruction.qubits)
    return out


def _clifford_angles(circuit) -> bool:
    gates = set(STABILIZER_BASIS) | NOT_GATES
    for instruction in circuit.data:
        name = instruction.operation.name
        if name not in gates:
            return False
        if name == "rz":
            quarter_turns = float(instruction.operation.params[0]) / (math.pi / 2)
            if abs(quarter_turns - round(quarter_turns)) > 1e-9:
                return False
    return True


def _transpile(circuit, job: dict, clifford: bool, **target):
    """Transpile as qrt_runner does at this level (a wide Clifford circuit that level 2 or 3 left
    non-Clifford again at level 1)."""
    from qiskit import transpile

    level = job["optimization_level"]
    out = transpile(circuit, optimization_level=level, seed_transpiler=SEED, **target)
    if clifford and level >= 2 and circuit.num_qubits > 10 and not _clifford_angles(out):
        out = transpile(circuit, optimization_level=1, seed_transpiler=SEED, **target)
    return out


def _for_simulator(circuit, job: dict, clifford: bool):
    """The circuit as the simulator of ``job['method']`` runs it, and its layout (None: as built)."""
    from qiskit_aer import AerSimulator

    stabilizer = job["method"] == "stabilizer"
    basis = STABILIZER_BASIS if stabilizer else AerSimulator(method=job["method"]).configuration().basis_gates
    if all(instruction.operation.name in set(basis) | NOT_GATES for instruction in circuit.data):
        return (_stabilizer_form(circuit) if stabilizer else circuit), None
    if stabilizer:
        isa = _transpile(circuit, job, clifford, basis_gates=STABILIZER_BASIS)
        return _stabilizer_form(isa), isa.layout
    isa = _transpile(circuit, job, clifford, backend=AerSimulator(method=job["method"]))
    return isa, isa.layout


def _raw_options(job: dict) -> dict:
    options = {"method": job["method"], "max_parallel_threads": job["threads"], "seed_simulator": SEED}
    if job.get("device", "CPU") != "CPU":
        options["device"] = job["device"]
    return options


def _raw_ghz(job: dict, _setup: dict) -> tuple[list[float], dict]:
    from qiskit import QuantumCircuit
    from qiskit_aer.primitives import SamplerV2

    width = job["width"]
    t0 = time.perf_counter()
    circuit = QuantumCircuit(width)
    circuit.h(0)
    for qubit in range(width - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    isa, _ = _for_simulator(circuit, job, True)
    sampler = SamplerV2(seed=SEED, options={"backend_options": _raw_options(job)})
    t1 = time.perf_counter()
    counts = sampler.run([isa], shots=job["shots"]).result()[0].data.meas.get_counts()
    return [counts.get("0" * width, 0) / job["shots"]], {"prepare": t1 - t0, "job": time.perf_counter() - t1}


def _raw_ki_ideal(job: dict, setup: dict) -> tuple[list[float], dict]:
    from qiskit_aer.primitives import EstimatorV2

    from qrt_runner.workload.kicked_ising import kicked_ising, kicked_ising_observables

    case = BY_KEY[job["case"]]
    t0 = time.perf_counter()
    circuit = kicked_ising(job["width"], job["steps"], case.theta, setup["edges"])
    observables = [op for _, op in kicked_ising_observables(job["width"], circuit.metadata["edges"])]
    isa, layout = _for_simulator(circuit, job, case.theta == math.pi / 2)
    if layout is not None:
        observables = [op.apply_layout(layout) for op in observables]
    estimator = EstimatorV2(
        options={
            "default_precision": 0.0,
            "backend_options": _raw_options(job),
            "run_options": {"seed_simulator": SEED},
        }
    )
    t1 = time.perf_counter()
    evs = estimator.run([(isa, observables)]).result()[0].data.evs
    return [float(v) for v in evs], {"prepare": t1 - t0, "job": time.perf_counter() - t1}


def _raw_ki_pauli(job: dict, setup: dict) -> tuple[list[float], dict]:
    from qiskit import ClassicalRegister, QuantumCircuit
    from qiskit_aer import AerSimulator

    from qrt_runner.execution.simulation.pauli_noise import pauli_noise_model
    from qrt_runner.workload.kicked_ising import kicked_ising, kicked_ising_observables

    case = BY_KEY[job["case"]]
    device = setup["device"]
    t0 = time.perf_counter()
    circuit = kicked_ising(job["width"], job["steps"], case.theta, setup["edges"])
    observables = [op for _, op in kicked_ising_observables(job["width"], circuit.metadata["edges"])]
    placed = _transpile(circuit, job, True, backend=device, initial_layout=circuit.metadata["physical_qubits"])
    # simulate only the device qubits the circuit uses, numbered 0..k-1
    logical = list(placed.layout.final_index_layout())[: job["width"]]
    used = set(logical)
    for instruction in placed.data:
        if instruction.operation.name not in NOT_GATES:
            used.update(placed.find_bit(q).index for q in instruction.qubits)
    physical = sorted(used)
    index = {q: i for i, q in enumerate(physical)}
    supports = [[q for q, p in enumerate(reversed(op.paulis[0].to_label())) if p != "I"] for op in observables]
    measured = sorted({q for support in supports for q in support})
    compact = QuantumCircuit(len(physical))
    compact.add_register(ClassicalRegister(len(measured), "c"))
    for instruction in placed.data:
        if instruction.operation.name not in NOT_GATES:
            compact.append(instruction.operation, [index[placed.find_bit(q).index] for q in instruction.qubits])
    for bit, qubit in enumerate(measured):
        compact.measure(index[logical[qubit]], bit)
    if job["method"] == "stabilizer":
        compact = _stabilizer_form(compact)
    noise = pauli_noise_model(device, tuple(physical))
    options = {k: v for k, v in _raw_options(job).items() if k != "seed_simulator"}
    simulator = AerSimulator(noise_model=noise, **options)
    t1 = time.perf_counter()
    counts = simulator.run(compact, shots=job["shots"], seed_simulator=SEED).result().get_counts()
    bit_of = {q: b for b, q in enumerate(measured)}
    values = []
    for support in supports:
        total = 0
        for key, count in counts.items():
            bits = key.replace(" ", "")[::-1]
            total += count * (-1) ** sum(int(bits[bit_of[q]]) for q in support)
        values.append(total / job["shots"])
    return values, {"prepare": t1 - t0, "job": time.perf_counter() - t1}


def _raw_worker(job: dict) -> None:
    from qiskit import QuantumCircuit, transpile
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

    start = time.perf_counter()
    warm = QuantumCircuit(2)
    warm.rx(0.1, 0)
    warm.cx(0, 1)
    warm.measure_all()
    device = FakeSherbrooke()
    # a tiny job, and the transpiler's first calls (they load its plugins), as qrt's warm-up does
    transpile(warm, basis_gates=STABILIZER_BASIS, optimization_level=1)
    transpile(warm, device, optimization_level=1)
    AerSimulator(max_parallel_threads=job["threads"]).run(warm, shots=8).result()
    setup = {"device": device, "edges": [list(edge) for edge in device.coupling_map.get_edges()]}
    _emit(event="ready", warm_up_s=time.perf_counter() - start, sim_pid=None)
    case = BY_KEY[job["case"]]
    work = _raw_ghz if case.sampler else _raw_ki_pauli if case.noisy else _raw_ki_ideal
    spent = 0.0
    for _ in range(job["repeats"]):
        t0 = time.perf_counter()
        try:
            values, parts = work(job, setup)
        except Exception as exc:  # Aer's refusals (memory, gates) are results here
            _emit(event="error", message=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
            break
        seconds = time.perf_counter() - t0
        _emit(event="repeat", seconds=seconds, values=values, parts=parts)
        spent += seconds
        if spent > job["budget"]:
            break
    _emit(event="done", self_hwm=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sim_hwm=0, ended_children=0)


# --------------------------------------------------------------------------------------------
# The driver: runs the workers, watches their process trees, prints the table.


@dataclass
class Outcome:
    status: str = "ok"  # ok, refused, error, timeout, killed, skipped
    message: str = ""
    seconds: list[float] = field(default_factory=list)
    values: list[float] | None = None
    choice: dict | None = None
    note: str = ""
    parts: list[dict] = field(default_factory=list)
    peak_kib: int = 0
    sim_kib: int = 0
    baseline_kib: int = 0
    warm_up_s: float = float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    def part(self, name: str) -> float:
        values = [p.get(name, float("nan")) for p in self.parts]
        return statistics.median(values) if values else float("nan")


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from the parent ids in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _kill_tree(pids: list[int]) -> None:
    for pid in reversed(pids):  # only the worker this script started and its descendants
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_side(job: dict, timeout: float, max_rss_kib: int) -> Outcome:
    """Run one side of one row in a fresh process and watch its process tree."""
    outcome = Outcome()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(job)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        hwm: dict[int, int] = {}
        sim_pid = None
        ended = False
        exited = None  # when the worker was seen to have exited (a child may hold its stdout open)
        while not ended:
            if proc.poll() is not None:
                exited = exited or time.monotonic()
                if time.monotonic() - exited > 2.0:
                    break
            tree = _process_tree(proc.pid)
            rss = sum(_kib(pid, "VmRSS") for pid in tree)
            outcome.peak_kib = max(outcome.peak_kib, rss)
            for pid in tree:
                hwm[pid] = max(hwm.get(pid, 0), _kib(pid, "VmHWM"))
            if rss > max_rss_kib:
                _kill_tree(tree)
                outcome.status, outcome.message = "killed", f"RSS over {max_rss_kib / 2**20:.1f} GiB"
            elif time.monotonic() > deadline:
                _kill_tree(tree)
                outcome.status, outcome.message = "timeout", f"a repeat ran past {timeout:g} s"
            try:
                line = lines.get(timeout=SAMPLE_S)
            except queue.Empty:
                continue
            while line is not None:
                event = json.loads(line) if line.startswith("{") else {"event": "noise"}
                kind = event["event"]
                if kind == "ready":
                    outcome.warm_up_s, sim_pid = event["warm_up_s"], event["sim_pid"]
                    outcome.baseline_kib = sum(_kib(pid, "VmRSS") for pid in _process_tree(proc.pid))
                    deadline = time.monotonic() + timeout
                elif kind == "repeat":
                    outcome.seconds.append(event["seconds"])
                    outcome.values = event["values"]
                    outcome.choice = event.get("choice")
                    outcome.note = event.get("note", "")
                    outcome.parts.append(event["parts"])
                    deadline = time.monotonic() + timeout
                elif kind == "refused":
                    outcome.status, outcome.message = "refused", event["message"]
                    outcome.seconds.append(event["seconds"])
                elif kind == "error":
                    outcome.status, outcome.message = "error", event["message"]
                elif kind == "done":
                    single = max(event["self_hwm"], event["sim_hwm"], event["ended_children"])
                    outcome.peak_kib = max(outcome.peak_kib, single, *hwm.values())
                    outcome.sim_kib = max(event["sim_hwm"], hwm.get(sim_pid, 0) if sim_pid else 0)
                try:
                    line = lines.get_nowait()
                except queue.Empty:
                    break
            else:
                ended = True
        proc.wait()
        if outcome.status == "ok" and proc.returncode != 0:
            errors.seek(0)
            tail = [line for line in errors.read().splitlines() if line.strip()]
            outcome.status = "error"
            outcome.message = f"exit {proc.returncode}: {tail[-1] if tail else ''}"[:300]
    if sim_pid and not outcome.sim_kib:
        outcome.sim_kib = hwm.get(sim_pid, 0)
    return outcome


@dataclass
class Row:
    case: Case
    width: int
    steps: int | None
    device: str = "CPU"
    qrt: Outcome | None = None
    raw: Outcome | None = None


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}" if kib else "-"


def _seconds(outcome: Outcome | None) -> str:
    if outcome is None or outcome.status == "skipped":
        return "-"
    if outcome.status in ("timeout", "killed") and not outcome.seconds:
        return outcome.status
    if not outcome.seconds:
        return "error"
    return f"{outcome.median:.2f}"


def _ratio(a: float, b: float) -> str:
    if not (a > 0 and b > 0) or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}"


def _method(row: Row) -> str:
    qrt = row.qrt
    if qrt is None:
        return "-"
    if qrt.status == "refused":
        return "refused"
    if qrt.choice:
        return qrt.choice["method"] + ("(GPU)" if row.device != "CPU" else "")
    return qrt.status


def _difference(row: Row) -> str:
    if row.qrt is None or row.raw is None or not row.qrt.values or not row.raw.values:
        return "-"
    if len(row.qrt.values) != len(row.raw.values):
        return "?"
    return f"{max(abs(a - b) for a, b in zip(row.qrt.values, row.raw.values)):.1e}"


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'case':25} {'qubits':>6} {'steps':>5} {'method':20} {'qrt s':>8} {'raw s':>8} {'s ratio':>7} "
        f"{'qrt MiB':>8} {'(sim)':>6} {'raw MiB':>8} {'MiB ratio':>9} {'reps':>5} {'d':>8}  reason"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        qrt, raw = row.qrt, row.raw
        reps = f"{len(qrt.seconds) if qrt else 0}/{len(raw.seconds) if raw else 0}"
        reason = ""
        if qrt is not None and qrt.choice:
            reason = qrt.choice["reason"] + (f"; {qrt.note}" if qrt.note else "")
        steps = "-" if row.steps is None else str(row.steps)
        qrt_mib = _mib(qrt.peak_kib) if qrt and row.device == "CPU" else "-"
        sim_mib = _mib(qrt.sim_kib) if qrt and row.device == "CPU" else "-"
        raw_mib = _mib(raw.peak_kib) if raw and raw.status != "skipped" else "-"
        mib_ratio = _ratio(qrt.peak_kib, raw.peak_kib) if qrt and raw and row.device == "CPU" else "-"
        qrt_s = _seconds(qrt) if row.device == "CPU" else "n/a"
        s_ratio = _ratio(qrt.median, raw.median) if qrt and raw and row.device == "CPU" else "-"
        if qrt and qrt.status == "refused":
            s_ratio = mib_ratio = "-"
        print(
            f"{row.case.title:25} {row.width:6d} {steps:>5} {_method(row):20} {qrt_s:>8} {_seconds(raw):>8} "
            f"{s_ratio:>7} {qrt_mib:>8} {sim_mib:>6} {raw_mib:>8} {mib_ratio:>9} {reps:>5} {_difference(row):>8}  "
            f"{reason}"
        )
        for side, outcome in (("qrt", qrt), ("raw", raw)):
            if outcome is not None and outcome.status not in ("ok", "skipped"):
                print(f"{'':27}{side} {outcome.status}: {outcome.message}")
        if row.device != "CPU":
            print(f"{'':27}qrt n/a: qrt_runner has no option for Aer's GPU device")


def print_breakdown(rows: list[Row]) -> None:
    """Where the time goes: preparing (circuit, transpilation, method choice, simulator set-up)
    against the job (qrt: the job's run time in its simulator process; raw: the primitive's run)."""
    print()
    print("Where the time goes (medians, s): prepare = circuit, transpile, method choice / set-up; job = the run")
    header = f"{'case':25} {'qubits':>6} {'steps':>5} {'qrt prep':>9} {'qrt job':>9} {'qrt rest':>9} {'raw prep':>9} {'raw job':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        qrt, raw = row.qrt, row.raw
        if not (qrt and qrt.parts) and not (raw and raw.parts):
            continue
        q_prep, q_job = (qrt.part("prepare"), qrt.part("job")) if qrt and qrt.parts else (math.nan, math.nan)
        rest = qrt.median - q_prep - q_job if qrt and qrt.parts else math.nan
        r_prep, r_job = (raw.part("prepare"), raw.part("job")) if raw and raw.parts else (math.nan, math.nan)
        steps = "-" if row.steps is None else str(row.steps)
        cells = " ".join(
            f"{v:9.2f}" if not math.isnan(v) else f"{'-':>9}" for v in (q_prep, q_job, rest, r_prep, r_job)
        )
        print(f"{row.case.title:25} {row.width:6d} {steps:>5} {cells}")


def _source_state() -> tuple[str, float]:
    """What qrt_runner's source is (its commit, files changed since, newest edit), and that edit's time:
    the package may be edited while a long run goes on."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    newest = 0.0
    for folder, _, files in os.walk(os.path.join(root, "qrt_runner")):
        for name in files:
            if name.endswith(".py"):
                newest = max(newest, os.path.getmtime(os.path.join(folder, name)))
    try:
        git = ["git", "-C", root]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=20)
        status = subprocess.run(
            [*git, "status", "--porcelain", "--", "qrt_runner"], capture_output=True, text=True, timeout=20
        )
        state = (
            f"commit {commit.stdout.strip()} + {len(status.stdout.splitlines())} changed or new files under qrt_runner/"
        )
    except (OSError, subprocess.SubprocessError):
        state = "not a git checkout"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(newest))
    return f"qrt_runner source: {state}, newest edit {when}", newest


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("qiskit", "qiskit-aer", "stim"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} absent")
    return ", ".join(out)


def _physical_kib() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 16 * 2**20


def _gpu_available() -> bool:
    from qiskit_aer import AerSimulator

    return "GPU" in AerSimulator().available_devices()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[10, 20, 50, 100, 127], help="qubits")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 5, 20], help="kicked-Ising steps (depths)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per side and row (median)")
    parser.add_argument("--shots", type=int, default=1024, help="sampler shots; noisy estimator shots per basis")
    parser.add_argument("--threads", type=int, default=1, help="Aer threads on both sides (0: all cores)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per repeat before a case is killed")
    parser.add_argument(
        "--budget", type=float, default=60.0, help="stop repeating a row once its repeats took this long"
    )
    parser.add_argument("--cases", default=",".join(BY_KEY), help="comma-separated: " + ", ".join(BY_KEY))
    parser.add_argument("--optimization-level", type=int, default=1, help="transpiler level on both sides")
    parser.add_argument(
        "--max-rss-gib", type=float, default=0.6 * _physical_kib() / 2**20, help="kill a tree above this"
    )
    parser.add_argument("--raw-refused", action="store_true", help="run raw Aer (MPS) on rows qrt refused as well")
    parser.add_argument("--gpu", action="store_true", help="add Aer GPU statevector rows where a GPU build is there")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 6 rows, steps 1, 1 repeat, 256 shots")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        job = json.loads(args.worker)
        (_qrt_worker if job["side"] == "qrt" else _raw_worker)(job)
        return
    if args.quick:
        args.steps, args.repeats, args.shots = [1], 1, 256
    cases = [BY_KEY[key.strip()] for key in args.cases.split(",") if key.strip()]
    gpu = args.gpu and _gpu_available()
    load = os.getloadavg()[0]
    print(
        f"widths {QUICK_WIDTHS if args.quick else args.widths}, steps {args.steps}, repeats {args.repeats}, shots {args.shots}, "
        f"Aer threads {args.threads}, optimization level {args.optimization_level}, timeout {args.timeout:g} s, "
        f"{os.cpu_count()} cores, load average {load:.2f}"
    )
    source, edited = _source_state()
    print(f"{source}; {_versions()}")
    if args.gpu and not gpu:
        print(NO_GPU)
    max_rss_kib = int(args.max_rss_gib * 2**20)
    rows: list[Row] = []
    started = time.perf_counter()
    for case in cases:
        for width in QUICK_WIDTHS[case.key] if args.quick else args.widths:
            for steps in [None] if case.theta is None else args.steps:
                row = Row(case, width, steps)
                base = {
                    "case": case.key,
                    "width": width,
                    "steps": steps,
                    "shots": args.shots,
                    "threads": args.threads,
                    "repeats": args.repeats,
                    "budget": args.budget,
                    "optimization_level": args.optimization_level,
                }
                row.qrt = run_side({**base, "side": "qrt"}, args.timeout, max_rss_kib)
                method = row.qrt.choice["method"] if row.qrt.choice else None
                if method is None and row.qrt.status == "refused" and args.raw_refused and not case.noisy:
                    method = "matrix_product_state"  # the only Aer method that might run it
                if method is None:
                    row.raw = Outcome(status="skipped")
                else:
                    row.raw = run_side({**base, "side": "raw", "method": method}, args.timeout, max_rss_kib)
                rows.append(row)
                print(f"  [{time.perf_counter() - started:6.0f} s] {case.key} {width}q steps {steps}", file=sys.stderr)
                if gpu and method == "statevector":
                    gpu_row = Row(case, width, steps, device="GPU", qrt=row.qrt)
                    job = {**base, "side": "raw", "method": method, "device": "GPU"}
                    gpu_row.raw = run_side(job, args.timeout, max_rss_kib)
                    rows.append(gpu_row)
    print()
    print_table(rows)
    print_breakdown(rows)
    qrt_base = [r.qrt.baseline_kib for r in rows if r.qrt and r.qrt.baseline_kib and r.device == "CPU"]
    raw_base = [r.raw.baseline_kib for r in rows if r.raw and r.raw.baseline_kib]
    qrt_warm = [r.qrt.warm_up_s for r in rows if r.qrt and not math.isnan(r.qrt.warm_up_s) and r.device == "CPU"]
    print()
    if qrt_base and raw_base:
        print(
            f"Baseline RSS after imports and warm-up (medians): qrt tree {statistics.median(qrt_base) / 1024:.0f} MiB, "
            f"raw {statistics.median(raw_base) / 1024:.0f} MiB. qrt warm-up (tiny job, starts its simulator "
            f"process; not timed): {statistics.median(qrt_warm):.1f} s"
        )
    print(f"Total {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    source, now_edited = _source_state()
    if now_edited != edited:
        print(f"WARNING: qrt_runner was edited during the run; rows measured different code. Now: {source}")


if __name__ == "__main__":
    main()

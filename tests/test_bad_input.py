"""A corpus of bad input: every case exits 2 with one line on stderr that names what to change,
no traceback, and nothing left behind (no run directory, no store).

The cases run in one process (``tests/cli_batch.py`` calls the CLI's ``main`` once per case, each
in a fresh folder), so the corpus costs seconds, not a process start per case.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from conftest import HANG_S, REPO

pytestmark = pytest.mark.slow  # CLI runs in subprocesses: the full suite, not make test-fast

SU2 = ["circuit=efficient_su2", "circuit.num_qubits=3", "observables=ising"]
VQE = ["task=vqe", "circuit=efficient_su2", "circuit.num_qubits=2", "circuit.reps=1", "observables=ising"]
QAOA = ["circuit=qaoa", "observables=ising"]
GRID = [
    "circuit=real_amplitudes",
    "circuit.num_qubits=2",
    "circuit.reps=1",
    "observables=h2",
    "circuit.parameter_values.kind=grid",
]
PEC = ["experiment=ising_estimator", "backend=fake_manila", "mitigation=pec"]
BINARY = "b64:" + base64.b64encode(bytes(range(256))).decode()
OVERLAY = "# @package _global_\n"

# (args, a fragment the one line must contain, files to create first)
CASES: list[tuple[list[str], str, dict]] = [
    # a group's name that contradicts the option chosen for it, and a sampler without shots
    (["backend=aer", "backend.name=ibm"], "backend.name='ibm': does not match the chosen backend option", {}),
    (["circuit.name=qft"], "circuit.name='qft': does not match the chosen circuit option (ghz)", {}),
    (["task.name=vqe"], "choose the option instead: task=vqe", {}),
    (["primitive=sampler", "primitive.default_shots=null"], "primitive.default_shots=None: the sampler needs", {}),
    # NaN and infinity, wherever a number goes
    (["primitive.default_precision=nan"], "primitive.default_precision=nan: must be a finite number", {}),
    (["primitive.default_precision=inf"], "primitive.default_precision=inf: must be a finite number", {}),
    (["primitive.default_precision=-inf"], "primitive.default_precision=-inf", {}),
    (["primitive.max_execution_time=nan"], "primitive.max_execution_time=nan", {}),
    (["primitive.max_execution_time=inf"], "primitive.max_execution_time=inf", {}),
    (["session.max_time=nan"], "session.max_time=nan", {}),
    (["session.max_time=inf"], "session.max_time=inf", {}),
    (["tracking.timeout_s=nan"], "tracking.timeout_s=nan", {}),
    ([*SU2, "circuit.parameter_values.low=nan"], "circuit.parameter_values.low=nan", {}),
    ([*SU2, "circuit.parameter_values.high=inf"], "circuit.parameter_values.high=inf", {}),
    (
        [*GRID, "++circuit.parameter_values.grid={0:[0,1,3]}", "circuit.parameter_values.fill=nan"],
        "circuit.parameter_values.fill=nan",
        {},
    ),
    ([*GRID, "++circuit.parameter_values.grid={0:[0,nan,3]}"], "circuit.parameter_values.grid.0", {}),
    (
        [*GRID, "circuit.parameter_values.kind=one", "circuit.parameter_values.values=[nan,1,1,1]"],
        "circuit.parameter_values.values[0]=nan",
        {},
    ),
    ([*SU2, "observables.j=nan"], "observables.j=nan", {}),
    ([*SU2, "observables.h=inf"], "observables.h=inf", {}),
    ([*SU2[:2], "observables=heisenberg", "observables.jx=nan"], "observables.jx=nan", {}),
    (
        ["circuit=real_amplitudes", "circuit.num_qubits=2", "observables=h2", "observables.bond_length=nan"],
        "observables.bond_length=nan",
        {},
    ),
    (
        ["backend=fake_manila", "mitigation=zne", "mitigation.resilience.zne.noise_factors=[1,nan]"],
        "noise_factors[1]=nan",
        {},
    ),
    (
        ["backend=fake_manila", "mitigation=zne", "mitigation.resilience.zne.extrapolated_noise_factors=[0,inf]"],
        "extrapolated_noise_factors[1]=inf",
        {},
    ),
    ([*PEC, "mitigation.resilience.pec.max_overhead=inf"], "mitigation.resilience.pec.max_overhead=inf", {}),
    ([*PEC, "mitigation.resilience.pec.noise_gain=nan"], "mitigation.resilience.pec.noise_gain", {}),
    ([*VQE, "task.optimizer.tol=nan"], "task.optimizer.tol=nan", {}),
    ([*VQE, "task.optimizer.learning_rate=inf"], "task.optimizer.learning_rate=inf", {}),
    ([*VQE, "task.optimizer.perturbation=nan"], "task.optimizer.perturbation=nan", {}),
    ([*VQE, "task.initial_point.low=nan"], "task.initial_point.low=nan", {}),
    (
        [*VQE, "task.initial_point.kind=list", "task.initial_point.values=[0,0,0,0,0,0,0,nan]"],
        "task.initial_point.values[7]=nan",
        {},
    ),
    ([*QAOA, "circuit.edges=[[0,1,nan]]"], "circuit.edges", {}),
    # unknown keys, however they arrive
    (["+new.key=1"], "new=", {}),
    (["+circuit.foo=1"], "circuit.foo=1: unknown key", {}),
    (["circuit.foo=1"], "circuit.foo", {}),
    (["+circuit.num_qubit=4"], "did you mean circuit.num_qubits?", {}),
    (["+primitive.shots=100"], "primitive.shots=100: unknown key", {}),
    (["+mitigation.resilience.zne.foo=1"], "mitigation.resilience.zne.foo=1: unknown key", {}),
    ([*VQE, "+task.optimizer.foo=1"], "task.optimizer.foo=1: unknown key", {}),
    (["+tracking.foo=1"], "tracking.foo=1: unknown key", {}),
    (["+sweep.foo=1"], "sweep.foo=1: unknown key", {}),
    (["+seedd=1"], "seedd=1: unknown key", {}),
    (
        ["experiment=misplaced"],
        "experiment=misplaced sets num_qubits, which is not a config key",
        {"experiments/misplaced.yaml": OVERLAY + "num_qubits: 4\n"},
    ),
    (["experiment=typo"], "circuit.num_qbits", {"experiments/typo.yaml": OVERLAY + "circuit:\n  num_qbits: 4\n"}),
    (
        ["experiment=adds"],
        "experiment=adds sets circuit.+depth",
        {"experiments/adds.yaml": OVERLAY + "circuit:\n  +depth: 3\n"},
    ),
    # groups and options
    (["observables=null"], "observables=null: a config group needs an option", {}),
    (["circuit=null"], "circuit=null", {}),
    (["backend=fake_nowhere"], "backend=fake_nowhere: no such option", {}),
    (["circuit=ghzz"], "circuit=ghzz: no such option", {}),
    (["mitigation=level3"], "mitigation=level3: no such option", {}),
    (["primitive=sampler2"], "primitive=sampler2: no such option", {}),
    (["experiment=nope"], "experiment=nope: no such option", {}),
    (["task=vqee"], "task=vqee: no such option", {}),
    (["hydra/launcher=jobib"], "hydra/launcher=jobib: no such option", {}),
    (["experiment=ising_estimator", "observables=paulis"], "experiment=ising_estimator sets observables.j", {}),
    (
        ["experiment=broken"],
        "experiment=broken: cannot read",
        {"experiments/broken.yaml": OVERLAY + "circuit:\n  num_qubits: [4\n"},
    ),
    (["experiment=binary"], "experiment=binary: cannot read", {"experiments/binary.yaml": BINARY}),
    # types and ranges
    (
        ["circuit.num_qubits=abc"],
        "circuit.num_qubits='abc': Value 'abc' of type 'str' could not be converted to Integer",
        {},
    ),
    (["seed=abc"], "seed='abc'", {}),
    (["seed=-1"], "seed=-1: must be >= 0", {}),
    (["seed=99999999999999999999"], "seed=99999999999999999999: must be between 0 and 2**62", {}),
    (["backend.seed_simulator=-5"], "backend.seed_simulator=-5", {}),
    (["transpile.seed_transpiler=9223372036854775808"], "transpile.seed_transpiler", {}),
    ([*SU2, "circuit.parameter_values.seed=-1"], "circuit.parameter_values.seed=-1", {}),
    (["session.parameter_sets_per_job=-1"], "session.parameter_sets_per_job=-1", {}),
    (["primitive.default_shots=0"], "primitive.default_shots=0", {}),
    (["primitive.default_shots=abc"], "primitive.default_shots", {}),
    (["transpile.optimization_level=4"], "transpile.optimization_level=4", {}),
    (["session.mode=sesion"], "did you mean session?", {}),
    (["backend.method=stabilize"], "backend.method='stabilize'", {}),
    ([*SU2, "circuit.reps=0"], "circuit.reps=0", {}),
    ([*SU2, "circuit.entanglement=ful"], "circuit.entanglement='ful'", {}),
    (["backend.max_parallel_threads=-1"], "backend.max_parallel_threads=-1", {}),
    (["tracking.enabled=maybe"], "tracking.enabled", {}),
    (["objective=123"], "objective='123': unknown objective", {}),
    (["objective=fidelity"], "objective='fidelity': unknown objective", {}),
    (["objective=ev:NOPE"], "no observable is labelled 'NOPE'", {}),
    (["objective=best_energy"], "best_energy is produced by task=vqe", {}),
    (["objective=ev:0:x"], "the parameter-set index 'x'", {}),
    (["circuit.num_qubits=0"], "circuit.num_qubits=0", {}),
    (["circuit.num_qubits=30", "backend=fake_manila"], "fake_manila has only 5 qubits", {}),
    (["circuit.num_qubits=40", "backend.method=statevector", "observables.terms=[ZZZ]"], "circuit.num_qubits", {}),
    ([*SU2, "backend.method=stabilizer"], "cannot simulate non-Clifford gates", {}),
    (
        ["primitive.default_precision=0", "backend=fake_manila"],
        "exact expectation values are only computed without noise (backend=aer)",
        {},
    ),
    (["mitigation=level1", "primitive.default_precision=0"], "mitigation works on measured shots", {}),
    (["mitigation=dd"], "mitigation.dynamical_decoupling.enable=True", {}),
    (["mitigation=pec"], "PEC needs a layer noise model", {}),
    ([*VQE, "primitive=sampler"], "primitive='sampler'", {}),
    (["task=qaoa"], "needs circuit=qaoa", {}),
    (["task=scan"], "task=scan needs a grid", {}),
    ([*SU2, "circuit.parameter_values.num_sets=0"], "circuit.parameter_values.num_sets=0", {}),
    (
        ["experiment=ising_estimator", "circuit.parameter_values.num_sets=1000000"],
        "session.parameter_sets_per_job=",
        {},
    ),
    ([*GRID, "++circuit.parameter_values.grid={0:[0,1,1e16]}"], "circuit.parameter_values.grid", {}),
    ([*SU2, "circuit.parameter_values.kind=one"], "circuit.parameter_values.values=None: kind=one needs values", {}),
    (["circuit=random", "circuit.max_operands=5"], "circuit.max_operands=5", {}),
    ([*QAOA, "circuit.edges=[[0,0,1.0]]"], "circuit.edges", {}),
    ([*VQE, "task.optimizer.maxiter=0"], "task.optimizer.maxiter=0", {}),
    (["experiment=vqe_h2", "task.optimizer.maxiter=4"], "needs at least 8 for 6 parameters", {}),
    ([*VQE, "task.optimizer.name=adamm"], "did you mean adam?", {}),
    ([*VQE, "task.initial_point.kind=list"], "task.initial_point.values", {}),
    (["observables.terms=[ZZQ]"], "observables.terms='ZZQ'", {}),
    (["observables.terms=[ZZ]"], "acts on 2 qubits but the circuit has 3", {}),
    (["observables.terms=['1e400*ZZZ']"], "coefficient '1e400' is not a finite number", {}),
    (["observables.terms=['0*ZZZ']"], "is the zero operator (its terms cancel)", {}),
    (["observables.terms=['ZZZ - ZZZ']"], "is the zero operator (its terms cancel)", {}),
    (["observables.terms=['1X+Q']"], "cannot parse the term", {}),
    (
        ["backend=fake_manila", "mitigation=zne", "mitigation.resilience.zne.noise_factors=[1,3,1e300]"],
        "each between 1 and 100",
        {},
    ),
    (
        ["backend=fake_manila", "mitigation=zne", "mitigation.resilience.zne.extrapolator=[cubic]"],
        "mitigation.resilience.zne.extrapolator",
        {},
    ),
    (
        ["backend=fake_manila", "mitigation=twirling", "mitigation.twirling.num_randomizations=0"],
        "mitigation.twirling.num_randomizations",
        {},
    ),
    (
        ["backend=fake_manila", "mitigation=dd", "mitigation.dynamical_decoupling.sequence_type=XYZ"],
        "mitigation.dynamical_decoupling.sequence_type",
        {},
    ),
    (["primitive=sampler", "observables=none", "objective=ev"], "objective='ev': ev needs an estimator run", {}),
    (["session.max_time=0"], "session.max_time=0", {}),
    (["primitive.max_execution_time=-1"], "primitive.max_execution_time=-1", {}),
    # input files
    (
        ["circuit=qasm", "circuit.path=missing.qasm", "observables=none", "primitive=sampler"],
        "circuit.path='missing.qasm': cannot read the file",
        {},
    ),
    (
        ["circuit=qasm", "circuit.path=empty.qasm", "primitive=sampler"],
        "circuit.path='empty.qasm': the file is empty",
        {"empty.qasm": ""},
    ),
    (
        ["circuit=qasm", "circuit.path=bin.qasm", "primitive=sampler"],
        "circuit.path='bin.qasm': is not a text file",
        {"bin.qasm": BINARY},
    ),
    (
        ["circuit=qasm", "circuit.path=bad.qasm", "primitive=sampler"],
        "circuit.path='bad.qasm': invalid OpenQASM 2",
        {"bad.qasm": "OPENQASM 2.0;\nqreg q[2];\nfoo q[0];\n"},
    ),
    (
        ["circuit=qasm", "circuit.path=folder", "primitive=sampler"],
        "circuit.path='folder': cannot read the file",
        {"folder": None},
    ),
    (
        ["circuit=factory", "circuit.target=nomodule_xyz:build", "primitive=sampler"],
        "cannot be imported (ModuleNotFoundError",
        {},
    ),
    (
        ["circuit=factory", "circuit.target=syntax_err_mod:build", "primitive=sampler"],
        "cannot be imported (SyntaxError",
        {"syntax_err_mod.py": "def build(:\n"},
    ),
    (
        ["circuit=factory", "circuit.target=nofunc_mod:build", "primitive=sampler"],
        "cannot be imported (AttributeError",
        {"nofunc_mod.py": "x = 1\n"},
    ),
    (
        ["circuit=factory", "circuit.target=notcirc_mod:build", "primitive=sampler"],
        "returned int, not a QuantumCircuit",
        {"notcirc_mod.py": "def build():\n    return 1\n"},
    ),
    (
        ["circuit=factory", "circuit.target=raising_mod:build", "primitive=sampler"],
        "raised ZeroDivisionError",
        {"raising_mod.py": "def build():\n    return 1 / 0\n"},
    ),
    (
        ["circuit=factory", "circuit.target=nocolon", "primitive=sampler"],
        "circuit.target='nocolon': must be 'module:function'",
        {},
    ),
    ([*PEC, "mitigation.resilience.layer_noise_model=missing.json"], "mitigation.resilience.layer_noise_model", {}),
    (
        [*PEC, "mitigation.resilience.layer_noise_model=empty.json"],
        "mitigation.resilience.layer_noise_model",
        {"empty.json": ""},
    ),
    (
        [*PEC, "mitigation.resilience.layer_noise_model=bin.json"],
        "mitigation.resilience.layer_noise_model",
        {"bin.json": BINARY},
    ),
    (
        [*PEC, "mitigation.resilience.layer_noise_model=bad.json"],
        "mitigation.resilience.layer_noise_model",
        {"bad.json": '{"layers": [{"gates": 3}]}'},
    ),
    (
        [*VQE, "task.resume_from=old"],
        "its optimizer_state.json is not an optimiser state",
        {"old/optimizer_state.json": "garbage"},
    ),
    (
        [*VQE, "task.resume_from=empty_run"],
        "task.resume_from='empty_run': has no optimizer_state.json",
        {"empty_run": None},
    ),
    ([*VQE, "task.resume_from=0123456789abcdef", "tracking=none"], "is not a run directory, and tracking is off", {}),
    # sizes far beyond the machine: one line, not an OverflowError or a circuit that never ends building
    (
        ["primitive=sampler", "circuit.num_qubits=10000", "backend.method=statevector"],
        "circuit.num_qubits=10000: a 10000-qubit statevector needs 2^10004 bytes, more than this machine's",
        {},
    ),
    (["primitive=sampler", "circuit.num_qubits=10000", "backend.method=statevector"], "backend.method=stabilizer", {}),
    (
        ["circuit=efficient_su2", "circuit.num_qubits=600", "circuit.reps=1", "backend.method=density_matrix"],
        "a 600-qubit density matrix needs 2^1204 bytes",
        {},
    ),
    (
        ["circuit=qft", "circuit.num_qubits=40", "primitive=sampler"],
        "a matrix product state too large as well); use fewer qubits",
        {},
    ),
    (["circuit.num_qubits=99999999999"], "circuit.num_qubits=99999999999: is more than any device", {}),
    (["primitive.default_precision=1e-300"], "primitive.default_precision=1e-300: would need 1/precision² shots", {}),
    (["primitive=sampler", "primitive.default_shots=10000000000000"], "primitive.default_shots=10000000000000", {}),
    (
        ["backend=fake_manila", "mitigation=twirling", "mitigation.twirling.num_randomizations=99999999999"],
        "mitigation.twirling.num_randomizations=99999999999",
        {},
    ),
    (["backend.max_parallel_threads=99999999999999999999"], "backend.max_parallel_threads=99999999999999999999", {}),
    (["tracking.timeout_s=1e308"], "tracking.timeout_s=1e+308: must be > 0 and at most 86400 seconds", {}),
    # ranges whose ends are swapped
    (
        [*SU2, "circuit.parameter_values.low=2", "circuit.parameter_values.high=1"],
        "circuit.parameter_values.high=1.0: is below circuit.parameter_values.low=2.0",
        {},
    ),
    ([*VQE, "task.initial_point.low=3", "task.initial_point.high=1"], "task.initial_point.high=1.0: is below", {}),
    # a QAOA graph without a cost
    (["circuit=qaoa", "circuit.edges=[]"], "circuit.edges=[]: is empty", {}),
    (["circuit=qaoa", "circuit.edges=[]"], "give edges as [[a, b, weight], ...]", {}),
    (
        ["circuit=qaoa", "circuit.edges=[[0,1,1.0],[1,0,-1.0]]", "primitive=sampler", "observables=none"],
        "circuit.edges=[[0, 1, 1.0], [1, 0, -1.0]]: every weight is 0 (or the weights of an edge cancel)",
        {},
    ),
    # inputs the run would ignore
    (
        ["primitive=sampler", "observables=paulis", "observables.terms=[ZZZ]"],
        "observables='paulis': the sampler measures the circuit itself and would ignore them; drop them with "
        "observables=none or use primitive=estimator",
        {},
    ),
    (["primitive=sampler", "observables=ising"], "observables='ising': the sampler measures the circuit itself", {}),
    (["task=qaoa", "circuit=qaoa", "observables=ising"], "task=qaoa measures its own MaxCut cost", {}),
    (
        [*VQE, "circuit.parameter_values.num_sets=5"],
        "circuit.parameter_values.kind='random': task=vqe chooses the parameter values itself",
        {},
    ),
    (
        ["experiment=qaoa_maxcut", "circuit.parameter_values.kind=grid", "++circuit.parameter_values.grid={0:[0,1,3]}"],
        "task=qaoa chooses the parameter values itself",
        {},
    ),
    (["circuit.parameter_values.num_sets=5"], "circuit.parameter_values.num_sets=5: the circuit has no parameters", {}),
    (
        ["circuit.parameter_values.kind=grid", "++circuit.parameter_values.grid={0:[0,1,3]}"],
        "circuit.parameter_values.grid={0: [0, 1, 3]}: the circuit has no parameters",
        {},
    ),
    # a run directory that cannot be written (here: below a file)
    (["hydra.run.dir=a_file/out"], "cannot write", {"a_file": "not a folder"}),
    # tracking
    (["tracking.uri=ftp://x"], "tracking.uri='ftp://x': is not a tracking store MLflow can use", {}),
    (["tracking.uri="], "tracking.uri=''", {}),
    (["tracking.experiment_name="], "tracking.experiment_name='': is empty", {}),
    (["tracking.timeout_s=0"], "tracking.timeout_s=0", {}),
    (["tracking.timeout_s=-1"], "tracking.timeout_s=-1", {}),
]


# the subcommands' usage errors: one line too (their prefix is "qrt-run: invalid input: ")
USAGE_CASES: list[tuple[list[str], str]] = [
    (["replay"], "qrt-run replay needs a run: give its run directory or MLflow run id"),
    (["diff", "a"], "qrt-run diff compares two runs, got 1 (a); give two run directories or MLflow run ids"),
    (["diff", "a", "b", "c"], "got 3 (a b c)"),
    (["sync"], "qrt-run sync: the following arguments are required: paths (qrt-run sync --help says more)"),
    (["sync", "x", "--timeout", "abc"], "qrt-run sync: argument --timeout: invalid float value: 'abc'"),
]


def _batch(cases: list[dict]) -> list[dict]:
    """Every case's outcome, from one process (``tests/cli_batch.py``)."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "cli_batch.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=HANG_S,
        cwd=REPO,
    )
    lines = proc.stdout.splitlines()
    assert len(lines) == len(cases), proc.stderr[-3000:]
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def outcomes():
    return _batch([{"args": args, "files": files} for args, _, files in CASES])


def test_the_corpus_is_large():
    assert len(CASES) >= 100


@pytest.mark.parametrize("number", range(len(CASES)), ids=[" ".join(args)[:80] for args, _, _ in CASES])
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(outcomes, number):
    args, fragment, _ = CASES[number]
    result = outcomes[number]
    assert result["escaped"] is None, result["escaped"]
    lines = result["stderr"].strip().splitlines()
    assert result["code"] == 2, result["stderr"]
    assert len(lines) == 1 and "Traceback" not in result["stderr"], result["stderr"]
    assert lines[0].startswith("qrt-run: invalid config: ") and fragment in lines[0], lines[0]
    assert result["left"] == [], result["left"]


def test_subcommand_usage_errors_exit_2_with_one_line():
    for (args, fragment), result in zip(USAGE_CASES, _batch([{"args": args} for args, _ in USAGE_CASES])):
        assert result["escaped"] is None and result["code"] == 2, (args, result)
        lines = result["stderr"].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("qrt-run: invalid input: ") and fragment in lines[0], lines
        assert not result["stdout"] and result["left"] == [], (args, result)

"""Every config group composes and validates; bad input is refused with a pinned one-line message."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from conftest import FAST, compose_config, run_cli, spec_for
from qrt_runner.config import schema
from qrt_runner.errors import ConfigError
from qrt_runner.execution.fake_backends import fake_backend, fake_backend_names
from qrt_runner.tasks.runner import build_workload
from qrt_runner.workload.circuits import CIRCUITS as CIRCUIT_FAMILIES
from qrt_runner.workload.observables import OBSERVABLE_MODELS

CIRCUITS = ["ghz", "efficient_su2", "real_amplitudes", "qft", "qaoa", "random"]


@pytest.mark.parametrize("circuit", CIRCUITS)
@pytest.mark.parametrize("primitive", ["estimator", "sampler"])
def test_every_circuit_composes_for_both_primitives(circuit, primitive):
    observables = "ising" if primitive == "estimator" else "none"  # the sampler refuses observables it would ignore
    overrides = [f"circuit={circuit}", f"primitive={primitive}", f"observables={observables}", "circuit.num_qubits=3"]
    if circuit == "qaoa":
        overrides.append("circuit.edges=[[0,1,1.0],[1,2,0.5]]")
    spec = spec_for(overrides)
    workload = build_workload(spec)
    assert workload.circuit.num_qubits == 3
    assert (workload.circuit.num_clbits > 0) == (primitive == "sampler")
    assert spec.circuit.name == circuit


@pytest.mark.parametrize("observables,width", [("paulis", 3), ("ising", 3), ("heisenberg", 3), ("h2", 2)])
def test_every_observable_group_composes(observables, width):
    overrides = [f"observables={observables}", f"circuit.num_qubits={width}"]
    if observables == "paulis":
        overrides.append("observables.terms=[ZZI,'0.5*XXX + IYY']")
    workload = build_workload(spec_for(overrides))
    assert all(op.num_qubits == width for _, op in workload.observables)


@pytest.mark.parametrize(
    "group_option",
    [
        "backend=aer",
        "backend=fake_manila",
        "backend=ibm",
        "session.mode=session",
        "session.mode=batch",
        "task=vqe",
        "tracking=none",
        "tracking=mlflow",
        "mitigation=none",
        "transpile.optimization_level=0",
        "primitive=sampler",
    ],
)
def test_other_groups_compose(group_option):
    spec = spec_for([group_option])
    assert spec.transpile.seed_transpiler == spec.seed  # derived from the root seed, visible


def test_every_fake_backend_is_an_option_named_like_the_device():
    names = fake_backend_names()
    assert len(names) > 50 and "fake_manila" in names and "fake_sherbrooke" in names
    for name in ("fake_manila", "fake_sherbrooke", "fake_torino", "fake_almaden"):
        assert fake_backend(name).name == name
        assert spec_for([f"backend={name}"]).backend.name == name


def test_root_seed_reaches_every_seed():
    spec = spec_for(["seed=77", "circuit=random"])
    assert spec.backend.seed_simulator == spec.transpile.seed_transpiler == spec.circuit.seed == 77
    assert spec.circuit.parameter_values.seed == 77


def test_parameter_values_kinds():
    base = ["circuit=real_amplitudes", "circuit.num_qubits=2", "circuit.reps=1", "observables=h2"]
    one = build_workload(
        spec_for(base + ["circuit.parameter_values.kind=one", "circuit.parameter_values.values=[0.1,0.2,0.3,0.4]"])
    )
    assert one.parameter_values.shape == (4,)
    many = build_workload(
        spec_for(base + ["circuit.parameter_values.kind=list", "circuit.parameter_values.values=[[0,0,0,0],[1,1,1,1]]"])
    )
    assert many.parameter_values.shape == (2, 4)
    grid = build_workload(
        spec_for(base + ["circuit.parameter_values.kind=grid", "++circuit.parameter_values.grid={0:[0,1,3],1:[0,2,5]}"])
    )
    assert grid.parameter_values.shape == (3, 5, 4)
    assert grid.parameter_values[2, 4].tolist() == [1.0, 2.0, 0.0, 0.0]
    point = build_workload(
        spec_for(base + ["circuit.parameter_values.kind=grid", "++circuit.parameter_values.grid={0:0.5,3:[0,2,5]}"])
    )
    assert point.parameter_values.shape == (1, 5, 4)  # a single value is a one-point axis
    assert point.parameter_values[0, 4].tolist() == [0.5, 0.0, 0.0, 2.0]
    rand = build_workload(spec_for(base + ["circuit.parameter_values.num_sets=7"]))
    assert rand.parameter_values.shape == (7, 4)


def test_qasm2_and_qasm3_files(tmp_path):
    q2 = tmp_path / "c2.qasm"
    q2.write_text(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
    )
    q3 = tmp_path / "c3.qasm"
    q3.write_text('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nh q[0];\ncx q[0], q[1];\ncx q[1], q[2];\n')
    w2 = build_workload(spec_for(["primitive=sampler", "circuit=qasm", f"circuit.path={q2}"]))
    assert w2.circuit.num_qubits == 2 and w2.circuit.count_ops()["measure"] == 2
    w3 = build_workload(
        spec_for(["circuit=qasm", f"circuit.path={q3}", "observables=paulis", "observables.terms=[ZZI]"])
    )
    assert w3.circuit.num_qubits == 3


def test_factory_circuit(tmp_path, monkeypatch):
    (tmp_path / "my_factory.py").write_text(
        "from qiskit import QuantumCircuit\n"
        "def bell(n=2):\n    qc = QuantumCircuit(n)\n    qc.h(0)\n    qc.cx(0, 1)\n    return qc\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    w = build_workload(
        spec_for(["circuit=factory", "circuit.target=my_factory:bell", "observables=paulis", "observables.terms=[ZZ]"])
    )
    assert w.circuit.num_qubits == 2


# (overrides, pinned message fragment) — refused by the spec/workload step, before anything runs.
BAD_SPECS = [
    (["circuit.num_qubits=0"], "circuit.num_qubits=0: must be at least 1"),
    (["observables=none"], "observables='none': the estimator needs observables"),
    (["observables=paulis", "observables.terms=[ZZ]"], "observables='ZZ': acts on 2 qubits but the circuit has 3"),
    (["observables=paulis", "observables.terms=[ZZQ]"], "observables.terms='ZZQ': cannot parse the term 'ZZQ'"),
    (
        [
            "circuit=real_amplitudes",
            "circuit.num_qubits=2",
            "circuit.reps=1",
            "observables=h2",
            "circuit.parameter_values.kind=one",
            "circuit.parameter_values.values=[0.1,0.2]",
        ],
        "the circuit has 4 parameters (θ[0], θ[1], θ[2], θ[3]), got 2 values",
    ),
    (["circuit=qasm", "circuit.path=/nonexistent/c.qasm"], "circuit.path='/nonexistent/c.qasm': cannot read the file"),
    (["primitive=sampler", "primitive.default_shots=-5"], "primitive.default_shots=-5: must be at least 1"),
    (["primitive.default_precision=-0.1"], "primitive.default_precision=-0.1: must be >= 0"),
    (["primitive.max_execution_time=-1"], "primitive.max_execution_time=-1.0: must be > 0 seconds"),
    (["session.mode=sesion"], "session.mode='sesion': unknown value; did you mean session?"),
    (["session.max_time=0"], "session.max_time=0.0: must be > 0 seconds"),
    (["transpile.optimization_level=4"], "transpile.optimization_level=4: must be 0, 1, 2 or 3"),
    (["backend.method=tensor"], "backend.method='tensor': unknown value"),
    (
        ["backend=fake_manila", "primitive.default_precision=0"],
        "exact expectation values are only computed without noise (backend=aer)",
    ),
    (["mitigation.resilience_level=5"], "mitigation.resilience_level=5: must be 0, 1 or 2"),
    (["circuit=random", "circuit.depth=0"], "circuit.depth=0: must be at least 1"),
    (["circuit.parameter_values.kind=sobol"], "circuit.parameter_values.kind='sobol': unknown value"),
    (["circuit=factory", "circuit.target=nomodule"], "circuit.target='nomodule': must be 'module:function'"),
    (
        ["circuit=factory", "circuit.target=no_such_module_xyz:f"],
        "circuit.target='no_such_module_xyz:f': cannot be imported",
    ),
    (
        ["circuit=qaoa", "circuit.edges=[[0,9,1.0]]", "primitive=sampler"],
        "circuit.edges=[0, 9, 1.0]: each edge must be",
    ),
    (["circuit=qft", "circuit.initial_state=012"], "circuit.initial_state='012': must be a bitstring of length 4"),
    (["circuit=qaoa", "circuit.edges=[1,2]", "primitive=sampler"], "circuit.edges=1: each edge must be [a, b, weight]"),
    (
        [
            "circuit=real_amplitudes",
            "observables=ising",
            "circuit.parameter_values.kind=one",
            "circuit.parameter_values.values=[a,b]",
        ],
        "must be one list of numbers",
    ),
    (
        [
            "circuit=real_amplitudes",
            "observables=ising",
            "circuit.parameter_values.kind=list",
            "circuit.parameter_values.values=[[1,2],[3]]",
        ],
        "must be a list of equally long lists of numbers",
    ),
    (
        [
            "circuit=real_amplitudes",
            "observables=ising",
            "circuit.parameter_values.kind=grid",
            "++circuit.parameter_values.grid={0:[0,5]}",
        ],
        "circuit.parameter_values.grid.0=[0, 5]: must be [start, stop, num] with num >= 1, or one value",
    ),
    (["seed=-1"], "seed=-1: must be >= 0"),
]


@pytest.mark.parametrize("overrides,message", BAD_SPECS, ids=[" ".join(o) for o, _ in BAD_SPECS])
def test_bad_input_is_refused_with_a_pinned_message(overrides, message):
    with pytest.raises(ConfigError) as info:
        build_workload(spec_for(overrides))
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "; " in text  # one line: the problem, then what to change


def test_invalid_qasm_is_refused(tmp_path):
    bad = tmp_path / "bad.qasm"
    bad.write_text("OPENQASM 2.0;\nqreg q[2];\nfoo q[0];\n")
    with pytest.raises(ConfigError, match=r"circuit.path='.*bad.qasm': invalid OpenQASM 2"):
        build_workload(spec_for(["circuit=qasm", f"circuit.path={bad}", "primitive=sampler"]))


@pytest.mark.parametrize(
    "overrides",
    [["circuit.foo=1"], ["circuit.num_qubits=abc"], ["backend=fake_nowhere"], ["session.mode=[1]"]],
)
def test_hydra_refuses_unknown_keys_types_and_options(overrides):
    with pytest.raises((HydraException, OmegaConfBaseException)):
        compose_config(overrides)


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["circuit.foo=1"], "circuit.foo: unknown key; check its spelling"),
        (["circuit.num_qubits=abc"], "circuit.num_qubits"),
        (["backend=fake_nowhere"], "fake_nowhere"),
        (["transpile.optimization_level=7"], "transpile.optimization_level=7: must be 0, 1, 2 or 3"),
        (["observables=none"], "the estimator needs observables"),
        (["experiment=nope"], "experiment=nope: no such option; choose one of default, ghz_sampler"),
        (["backend=fake_manilla"], "backend=fake_manilla: no such option; did you mean fake_manila"),
        (["observables.terms=[[Z,Z,Z]]"], "each entry must be a Pauli string or sum"),
        (["backend=fake_manila", "circuit.num_qubits=7", "observables=ising"], "fake_manila has only 5 qubits"),
        (
            ["circuit.num_qubits=40", "backend.method=statevector", "observables=ising"],
            "a 40-qubit statevector needs 16.0 TiB",
        ),
        (
            ["experiment=ising_estimator", "backend.method=stabilizer"],
            "backend.method='stabilizer': cannot simulate non-Clifford gates",
        ),
        (
            ["experiment=vqe_h2", "task.initial_point.kind=list", "task.initial_point.values=[1,2]"],
            "the circuit has 6 parameters",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_no_run_dir(tmp_path, args, fragment):
    proc = run_cli([*args, *FAST], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("qrt-run: invalid config: ") and fragment in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not list(tmp_path.rglob("results.json")) and not list(tmp_path.rglob("config.yaml"))


def test_schemas_cover_every_circuit_and_observable_option():
    conf = Path(__file__).resolve().parents[1] / "conf"
    assert {p.stem for p in (conf / "circuit").glob("*.yaml")} == set(CIRCUIT_FAMILIES.names())
    assert {p.stem for p in (conf / "observables").glob("*.yaml")} == set(OBSERVABLE_MODELS.names())
    assert {p.stem for p in (conf / "task").glob("*.yaml")} == set(schema.TASK_SCHEMAS)


def test_registries_refuse_unknown_names_with_the_choices():
    with pytest.raises(ConfigError) as circuit:
        CIRCUIT_FAMILIES.get("ghzz")
    assert circuit.value.key == "circuit" and "choose one of efficient_su2, factory, ghz" in str(circuit.value)
    with pytest.raises(ConfigError) as model:
        OBSERVABLE_MODELS.get("tfim")
    assert model.value.key == "observables" and "h2, heisenberg, ising, kicked_ising, none, paulis" in str(model.value)


def test_every_backend_option_has_a_kind_that_answers_for_it():
    from qrt_runner.execution.backends import BACKEND_KINDS, kind_of

    aer, manila = spec_for([]).backend, spec_for(["backend=fake_manila"]).backend
    assert kind_of(aer) is BACKEND_KINDS.get("aer").build
    assert kind_of(aer).local and not kind_of(aer).has_device
    assert kind_of(manila).has_device and kind_of(manila).local
    assert kind_of(manila).device(spec_for(["backend=fake_manila"])).name == "fake_manila"
    ibm = kind_of(schema.IbmBackendConfig(device="ibm_brisbane"))
    assert not ibm.local and ibm.has_device
    with pytest.raises(ConfigError, match="choose one of aer, fake, ibm"):
        BACKEND_KINDS.get("braket")


def test_a_database_tracking_uri_needs_its_driver_installed():
    """A driver that is missing is bad input, refused before anything runs (not a tracking outage
    that qrt-run sync could mend); the driver the tests install is accepted."""
    import importlib.util

    spec_for(["tracking.uri=postgresql+psycopg2://qrt@127.0.0.1:5432/mlflow"])
    if importlib.util.find_spec("pg8000") is not None:
        pytest.skip("pg8000 is installed here: no missing driver to name")
    with pytest.raises(ConfigError, match=r"tracking.uri='postgresql\+pg8000://.*needs a database driver .*pg8000"):
        spec_for(["tracking.uri=postgresql+pg8000://qrt@127.0.0.1:5432/mlflow"])
    with pytest.raises(ConfigError, match=r"is not a database URI SQLAlchemy knows"):
        spec_for(["tracking.uri=mysql+nosuchdriver://qrt@127.0.0.1/mlflow"])

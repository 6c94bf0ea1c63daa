"""``qrt_runner.runtime``: scripts written for qiskit-ibm-runtime's primitives run with their import
line changed, and the mitigation options they set are applied (IBM's local testing mode ignores
them). The scripts are IBM's tutorial patterns, run on ``FakeManilaV2`` in a subprocess once with
each import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from conftest import HANG_S
from qrt_runner.runtime import Batch, EstimatorV2, SamplerV2, Session, UnsupportedOption

pytestmark = pytest.mark.slow  # IBM's scripts run in subprocesses: the full suite, not make test-fast

ESTIMATOR_SCRIPT = """
import json, sys
import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from {module} import EstimatorV2 as Estimator

backend = FakeManilaV2()
qc = QuantumCircuit(3)
qc.h(0); qc.cx(0, 1); qc.cx(1, 2)
for _ in range(3):
    qc.cx(0, 1); qc.cx(1, 2); qc.cx(1, 2); qc.cx(0, 1)
labels = ["ZZI", "IZZ", "XXX"]
exact = np.array([Statevector(qc).expectation_value(SparsePauliOp(p)).real for p in labels])
isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(qc)
errors = {{}}
for level in (0, 2):
    estimator = Estimator(mode=backend)
    estimator.options.resilience_level = level
    estimator.options.default_shots = 4000
    estimator.options.simulator.seed_simulator = 7
    job = estimator.run([(isa, [SparsePauliOp(p).apply_layout(isa.layout) for p in labels])])
    errors[level] = float(np.mean(np.abs(job.result()[0].data.evs - exact)))
print(json.dumps(errors))
"""

VQE_SCRIPT = """
import json
import numpy as np
from scipy.optimize import minimize
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from {module} import EstimatorV2 as Estimator, SamplerV2 as Sampler, Session

H = SparsePauliOp.from_list([("II", -1.052373245772859), ("IZ", 0.39793742484318045), ("ZI", -0.39793742484318045),
                             ("ZZ", -0.01128010425623538), ("XX", 0.18093119978423156)])
backend = FakeManilaV2()
ansatz = real_amplitudes(2, reps=1)
isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=3).run(ansatz)
hamiltonian = H.apply_layout(isa.layout)
energies = []
with Session(backend=backend, max_time="1h") as session:
    estimator = Estimator(mode=session)
    estimator.options.default_shots = 2000
    estimator.options.resilience_level = 1
    estimator.options.simulator.seed_simulator = 11

    def cost(x):
        energy = float(estimator.run([(isa, hamiltonian, x)]).result()[0].data.evs)
        energies.append(energy)
        return energy

    result = minimize(cost, np.zeros(ansatz.num_parameters), method="COBYLA", options={{"maxiter": 30}})
    final = cost(result.x)
    measured = isa.copy()
    measured.measure_all()
    counts = Sampler(mode=session).run([(measured, result.x)], shots=300).result()[0].data.meas.get_counts()
print(json.dumps({{"final": float(final), "jobs": len(energies), "shots": sum(counts.values())}}))
"""
EXACT_H2 = -1.857275


def _script(template: str, module: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(template.format(module=module))],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def estimator_errors():
    return _script(ESTIMATOR_SCRIPT, "qrt_runner.runtime"), _script(ESTIMATOR_SCRIPT, "qiskit_ibm_runtime")


def test_the_resilience_level_set_in_an_ibm_script_is_applied(estimator_errors):
    qrt, ibm = estimator_errors
    assert qrt["2"] < qrt["0"] / 4  # level 2 cuts the error at least 4x on this circuit
    assert ibm["2"] == ibm["0"]  # IBM's local testing mode ignores the level
    assert qrt["2"] < ibm["2"] / 4


def test_a_vqe_script_in_a_session_ends_closer_to_exact_than_ibms_local_mode():
    qrt, ibm = _script(VQE_SCRIPT, "qrt_runner.runtime"), _script(VQE_SCRIPT, "qiskit_ibm_runtime")
    assert qrt["jobs"] == ibm["jobs"] and qrt["shots"] == ibm["shots"] == 300
    assert abs(qrt["final"] - EXACT_H2) < abs(ibm["final"] - EXACT_H2) - 0.02


def _bell() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    return qc


OPTION_PATHS = [
    ("resilience_level", 2, lambda m, o: m.resilience.zne_mitigation and m.twirling.enable_gates),
    ("resilience.measure_mitigation", False, lambda m, o: not m.resilience.measure_mitigation),
    ("resilience.zne_mitigation", True, lambda m, o: m.resilience.zne_mitigation),
    ("resilience.zne.noise_factors", [1, 2, 3], lambda m, o: m.resilience.zne.noise_factors == (1, 2, 3)),
    ("resilience.zne.extrapolator", ["linear"], lambda m, o: m.resilience.zne.extrapolator == ("linear",)),
    ("resilience.zne.amplifier", "pea", lambda m, o: m.pea),  # with zne_mitigation on (below)
    ("resilience.pec_mitigation", True, lambda m, o: m.resilience.pec_mitigation),
    ("resilience.pec.max_overhead", 7, lambda m, o: m.resilience.pec.max_overhead == 7),
    (
        "resilience.measure_noise_learning.num_randomizations",
        5,
        lambda m, o: m.resilience.measure_noise_learning.num_randomizations == 5,
    ),
    (
        "resilience.measure_noise_learning.shots_per_randomization",
        33,
        lambda m, o: m.resilience.measure_noise_learning.shots_per_randomization == 33,
    ),
    ("twirling.enable_gates", True, lambda m, o: m.twirling.enable_gates),
    ("twirling.enable_measure", True, lambda m, o: m.twirling.enable_measure),  # from level 0 (below)
    ("twirling.num_randomizations", 9, lambda m, o: m.twirling.num_randomizations == 9),
    ("twirling.shots_per_randomization", 17, lambda m, o: m.twirling.shots_per_randomization == 17),
    ("twirling.strategy", "all", lambda m, o: m.twirling.strategy == "all"),
    ("dynamical_decoupling.enable", True, lambda m, o: m.dynamical_decoupling.enable),
    ("dynamical_decoupling.sequence_type", "XY4", lambda m, o: m.dynamical_decoupling.sequence_type == "XY4"),
    ("default_shots", 123, lambda m, o: o.default_shots == 123),
    ("default_precision", 0.05, lambda m, o: o.default_precision == 0.05),
    ("max_execution_time", 60, lambda m, o: o.max_execution_time == 60),
    (
        "resilience.layer_noise_learning.num_randomizations",
        8,
        lambda m, o: m.layer_noise.source == "learned" and m.layer_noise.num_randomizations == 8,
    ),
]


@pytest.mark.parametrize(("path", "value", "applied"), OPTION_PATHS, ids=[p for p, _, _ in OPTION_PATHS])
def test_every_supported_option_path_is_applied(path, value, applied):
    estimator = EstimatorV2(mode=FakeManilaV2())
    node, _, leaf = ("options." + path).rpartition(".")
    target = estimator
    for part in node.split("."):
        target = getattr(target, part)
    setattr(target, leaf, value)
    if path == "resilience.pec_mitigation":
        estimator.options.resilience.zne_mitigation = False
    if path == "resilience.zne.amplifier":
        estimator.options.resilience.zne_mitigation = True
    if path == "twirling.enable_measure":  # level 1 would turn it on anyway
        estimator.options.resilience_level = 0
    local = estimator.local_options(estimator._target()[0])
    assert applied(local.mitigation, local), path


def test_options_given_as_a_dict_an_update_or_ibms_own_options_object():
    from qiskit_ibm_runtime.options import EstimatorOptions as IbmOptions

    by_dict = EstimatorV2(mode=FakeManilaV2(), options={"resilience_level": 0, "resilience": {"zne_mitigation": True}})
    assert by_dict.options.resilience.zne_mitigation is True and by_dict.options.resilience_level == 0
    by_dict.options.update(default_shots=77, twirling={"num_randomizations": 3})
    assert by_dict.options.default_shots == 77 and by_dict.options.twirling.num_randomizations == 3
    ibm = IbmOptions()
    ibm.resilience_level = 2
    ibm.resilience.zne.noise_factors = (1, 3)
    converted = EstimatorV2(mode=FakeManilaV2(), options=ibm).options
    assert converted.resilience_level == 2 and converted.resilience.zne.noise_factors == [1, 3]


@pytest.mark.parametrize(
    "path",
    [
        "environment.private",
        "execution.rep_delay",
        "simulator.noise_model",
        "seed_estimator",
        "experimental",
    ],
)
def test_an_unsupported_ibm_option_raises_naming_it(path):
    estimator = EstimatorV2(mode=FakeManilaV2())
    node, _, leaf = ("options." + path).rpartition(".")
    target = estimator
    for part in node.split("."):
        target = getattr(target, part)
    with pytest.raises(UnsupportedOption, match=f"options.{path} is not supported by qrt_runner"):
        setattr(target, leaf, 1)


def test_a_misspelt_option_raises():
    estimator = EstimatorV2(mode=FakeManilaV2())
    with pytest.raises(AttributeError, match="options.resilience.zne_mitigations: no such option"):
        estimator.options.resilience.zne_mitigations = True
    with pytest.raises(ValueError, match="options.resilience_level=5"):
        estimator.options.resilience_level = 5
        estimator.local_options(estimator._target()[0])


def test_jobs_and_sessions_look_like_ibms():
    with Session(backend=FakeManilaV2(), max_time=3600) as session:
        sampler = SamplerV2(
            mode=session,
            options={"default_shots": 200, "environment": {"job_tags": ["exp1"]}, "twirling": {"enable_measure": True}},
        )
        bell = _bell()
        bell.measure_all()
        job = sampler.run([bell])
        counts = job.result()[0].data.meas.get_counts()
        # twirled: 32 randomisations of ceil(200 / 32) shots, as IBM's service returns them
        assert sum(counts.values()) == 224 and job.status() == "DONE" and job.job_id().startswith("job-")
        assert job.session_id == session.session_id and session.session_id.startswith("session-")
        metrics = job.metrics()
        assert metrics["usage"]["seconds"] == job.usage() > 0 and metrics["tags"] == ["exp1"]
        assert metrics["timestamps"]["running"] <= metrics["timestamps"]["finished"]
        assert session.details()["jobs"] == 1 and session.usage() == pytest.approx(job.usage())
    assert session.status() == "Closed"
    with pytest.raises(Exception, match="closed"):
        sampler.run([bell])
    with Batch(backend="fake_manila", max_time="1h") as batch:
        estimator = EstimatorV2(mode=batch, options={"default_precision": 0.05})
        evs = estimator.run([(_bell(), ["ZZ", "XX"])]).result()[0].data.evs
        assert batch.session_id.startswith("batch-") and np.all(np.abs(evs - 1) < 0.3)

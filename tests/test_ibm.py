"""backend=ibm: the spec maps onto qiskit-ibm-runtime's options, modes and primitives (offline).

A fake device stands in for IBM Quantum: qiskit-ibm-runtime then runs in its local testing
mode, so the whole mapping is exercised without network or credentials.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit_ibm_runtime import Batch, Session
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from qiskit_ibm_runtime.options import EstimatorOptions, SamplerOptions

from conftest import spec_for
from qrt_runner.execution import ibm
from qrt_runner.tasks.runner import run_experiment


def test_resolved_config_maps_onto_ibm_options_models():
    est = spec_for(["backend=ibm", "primitive.default_precision=0.02", "primitive.max_execution_time=300"])
    options = ibm.runtime_options(est)
    assert options == {
        "default_shots": None,
        "max_execution_time": 300,
        "default_precision": 0.02,
        "resilience_level": 0,
    }
    EstimatorOptions(**options)  # IBM's own model accepts every field
    samp = spec_for(["backend=ibm", "experiment=ghz_sampler", "primitive.default_shots=1000"])
    assert ibm.runtime_options(samp) == {"default_shots": 1000, "max_execution_time": 10800}
    SamplerOptions(**ibm.runtime_options(samp))


def test_pec_and_pea_on_hardware_learn_with_the_configs_learning_options():
    spec = spec_for(
        [
            "backend=ibm",
            "mitigation=pec",
            "mitigation.layer_noise.source=learned",
            "mitigation.layer_noise.num_randomizations=16",
            "mitigation.layer_noise.layer_pair_depths=[0,2,8]",
        ]
    )
    options = ibm.runtime_options(spec)
    assert options["resilience"]["layer_noise_learning"] == {
        "max_layers_to_learn": 4,
        "shots_per_randomization": 128,
        "num_randomizations": 16,
        "layer_pair_depths": [0, 2, 8],
    }
    ibm_options = EstimatorOptions(**options)  # IBM's own model accepts them
    assert ibm_options.resilience.layer_noise_learning.num_randomizations == 16
    assert list(ibm_options.resilience.layer_noise_learning.layer_pair_depths) == [0, 2, 8]
    plain = spec_for(["backend=ibm", "mitigation=level1"])
    assert "layer_noise_learning" not in ibm.runtime_options(plain).get("resilience", {})
    with pytest.raises(Exception, match="mitigation.layer_noise.source='device': on hardware the service learns"):
        spec_for(["backend=ibm", "mitigation=pea", "mitigation.layer_noise.source=device"])


def test_ibm_backend_config_holds_no_credentials():
    spec = spec_for(["backend=ibm", "backend.device=ibm_brisbane"])
    assert set(vars(spec.backend)) == {"name", "device", "channel", "instance"}


@pytest.mark.parametrize("mode,cls", [("session", Session), ("batch", Batch)])
def test_modes_map_onto_runtime_session_and_batch(mode, cls):
    opened = ibm.open_mode(mode, FakeManilaV2(), 600)
    assert isinstance(opened, cls)
    opened.close()
    device = FakeManilaV2()
    assert ibm.open_mode("job", device, 600) is device


def test_estimator_experiment_runs_through_qiskit_ibm_runtime_in_local_mode():
    spec = spec_for(["backend=ibm", "experiment=default", "session.mode=session", "primitive.default_precision=0.03"])
    result = run_experiment(spec, device=FakeManilaV2())
    assert result.status == "FINISHED" and result.backend == "ibm:fake_manila"
    evs = result.estimator.evs
    assert evs.shape == (3,)
    assert 0.5 < evs[1] < 1.05 and 1.4 < evs[2] < 2.05  # a GHZ state, degraded by fake_manila's noise
    assert len(result.jobs) == 1 and result.jobs[0].status == "DONE"


def test_sampler_experiment_runs_through_qiskit_ibm_runtime_in_local_mode():
    spec = spec_for(["backend=ibm", "experiment=ghz_sampler", "circuit.num_qubits=3", "primitive.default_shots=500"])
    result = run_experiment(spec, device=FakeManilaV2())
    counts = result.sampler.counts[0]
    assert sum(counts.values()) == 500
    assert counts.get("000", 0) + counts.get("111", 0) > 400
    assert np.isfinite(result.sampler.hellinger_fidelity[0])


@pytest.mark.slow
def test_cli_without_an_ibm_account_exits_2_with_one_line(tmp_path):
    from conftest import run_cli

    env = {"HOME": str(tmp_path), "QISKIT_IBM_TOKEN": "", "QISKIT_IBM_INSTANCE": ""}
    proc = run_cli(["backend=ibm", "tracking=none"], cwd=tmp_path, env=env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "backend='ibm': cannot reach it on IBM Quantum" in lines[0]
    assert "save_account" in lines[0] and not list(tmp_path.rglob("config.yaml"))


REHEARSAL = ["backend=ibm", "backend.device=fake_manila", "backend.channel=local", "backend.instance=null"]


def _store_run(db):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    (run,) = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    return client, run


@pytest.mark.slow
def test_a_vqe_in_an_ibm_session_is_rehearsed_offline_from_the_cli(tmp_path):
    from conftest import run_cli

    proc = run_cli(
        [
            "experiment=vqe_h2",
            *REHEARSAL,
            "task.optimizer.name=spsa",
            "task.optimizer.maxiter=3",
            "primitive.default_precision=0.1",
            "session.mode=session",
            "hydra.run.dir=out",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ignores every mitigation option" in proc.stdout and "Warning" not in proc.stderr
    import json

    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["backend"] == "ibm:fake_manila" and results["mode"] == "session"
    assert results["optimization"]["iterations"] == 3 and len(results["jobs"]) == 3  # one job of the session per step
    assert {job["status"] for job in results["jobs"]} == {"DONE"}
    client, run = _store_run(tmp_path / "mlflow.db")
    assert run.info.status == "FINISHED" and run.data.tags["backend"] == "ibm:fake_manila"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "energy")] == [1, 2, 3]


@pytest.mark.slow
def test_a_scan_is_rehearsed_offline_from_the_cli(tmp_path):
    from conftest import run_cli

    proc = run_cli(
        ["experiment=h2_estimator", *REHEARSAL, "primitive.default_precision=0.1", "hydra.run.dir=out"], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    client, run = _store_run(tmp_path / "mlflow.db")
    assert run.info.status == "FINISHED" and len(client.get_metric_history(run.info.run_id, "ev/0")) == 21


def test_the_local_channel_needs_a_fake_device():
    with pytest.raises(
        Exception,
        match="backend.device='ibm_torino': backend.channel=local rehearses the hardware path on a fake device",
    ):
        spec_for(["backend=ibm", "backend.channel=local", "backend.device=ibm_torino"])

"""The fake devices runs use (qrt_runner.execution.devices): the same target, transpilation, noise
and records as IBM's FakeBackendV2 objects, kept on disk between processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.transpiler import generate_preset_pass_manager

from qrt_runner.execution import devices
from qrt_runner.execution.fake_backends import fake_backend
from qrt_runner.execution.simulation.noise import restricted_noise_model
from qrt_runner.execution.simulation.pauli_noise import pauli_noise_model
from qrt_runner.records.provenance import device_snapshot

DEVICES = ["fake_manila", "fake_sherbrooke", "fake_fractional", "fake_torino"]


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder, and no device kept in this process."""
    monkeypatch.setenv(devices.CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(devices.CACHE_OFF_ENV, raising=False)
    devices.device.cache_clear()
    yield tmp_path
    devices.device.cache_clear()


def _instructions(target):
    out = {}
    for name in target.operation_names:
        for qargs, props in (target[name] or {}).items():
            out[(name, qargs)] = None if props is None else (props.error, props.duration)
    return out


@pytest.mark.parametrize("name", DEVICES)
def test_target_and_records_are_ibms(name, fresh_cache):
    ibm = fake_backend(name)
    built = devices.device(name)  # built from IBM's device and kept
    devices.device.cache_clear()
    kept = devices.device(name)  # read back from the cache
    assert kept is not built
    for ours in (built, kept):
        assert ours.name == ibm.name and ours.num_qubits == ibm.num_qubits and ours.dt == ibm.dt
        assert ours.target.operation_names == ibm.target.operation_names
        assert _instructions(ours.target) == _instructions(ibm.target)
        assert sorted(ours.coupling_map.get_edges()) == sorted(ibm.coupling_map.get_edges())
        ibm_properties, our_properties = ibm.target.qubit_properties, ours.target.qubit_properties
        assert [(p.t1, p.t2, p.frequency) for p in ibm_properties] == [
            (p.t1, p.t2, p.frequency) for p in our_properties
        ]
        assert device_snapshot(ours) == device_snapshot(ibm)
    assert device_snapshot(ibm)["properties_sha256"]


@pytest.mark.parametrize("name", ["fake_manila", "fake_sherbrooke"])
def test_transpiles_and_models_noise_as_ibms(name, fresh_cache):
    ibm, ours = fake_backend(name), devices.device(name)
    for seed in range(4):
        circuit = random_circuit(4, 5, measure=True, seed=seed)
        isa = [
            generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=seed).run(circuit)
            for backend in (ibm, ours)
        ]
        assert isa[0] == isa[1]
        assert isa[0].layout.final_index_layout() == isa[1].layout.final_index_layout()
    qubits = (0, 1, 2)
    for model in (restricted_noise_model, pauli_noise_model):
        assert model(ours, qubits) == model(ibm, qubits)
        assert model(ours, qubits) != model(ibm, (0, 1, 3))  # the comparison sees the errors


def _in_fresh_process(cache, name, extra_env=None):
    code = (
        "import sys, json\n"
        "from qrt_runner.execution.devices import device\n"
        f"d = device({name!r})\n"
        "print(json.dumps({'provider_imported': 'qiskit_ibm_runtime' in sys.modules, 'qubits': d.num_qubits}))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != devices.CACHE_OFF_ENV}
    env.update({devices.CACHE_DIR_ENV: str(cache), **(extra_env or {})})
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_second_process_reads_the_device_without_the_provider(tmp_path):
    first = _in_fresh_process(tmp_path, "fake_manila")
    assert first == {"provider_imported": True, "qubits": 5}
    entries = list((tmp_path / "devices").glob("fake_manila-*.pickle"))
    assert len(entries) == 1
    second = _in_fresh_process(tmp_path, "fake_manila")
    assert second == {"provider_imported": False, "qubits": 5}
    assert list((tmp_path / "devices").iterdir()) == entries  # nothing partial left beside it


def test_a_damaged_entry_is_rebuilt_and_replaced(tmp_path):
    _in_fresh_process(tmp_path, "fake_manila")
    (entry,) = (tmp_path / "devices").glob("fake_manila-*.pickle")
    entry.write_bytes(entry.read_bytes()[:100])
    assert _in_fresh_process(tmp_path, "fake_manila") == {"provider_imported": True, "qubits": 5}
    assert _in_fresh_process(tmp_path, "fake_manila") == {"provider_imported": False, "qubits": 5}


def test_the_cache_can_be_turned_off_and_an_unwritable_one_is_left_alone(tmp_path):
    off = _in_fresh_process(tmp_path, "fake_manila", {devices.CACHE_OFF_ENV: "0"})
    assert off == {"provider_imported": True, "qubits": 5}
    assert not (tmp_path / "devices").exists()
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert _in_fresh_process(blocked, "fake_manila") == {"provider_imported": True, "qubits": 5}


def test_the_key_follows_the_calibration_files(tmp_path, monkeypatch):
    folder = tmp_path / "manila"
    folder.mkdir()
    (folder / "props_manila.json").write_text("{}")
    monkeypatch.setattr(devices, "device_folders", lambda: {"fake_manila": folder})
    before = devices._cache_key("fake_manila")
    (folder / "props_manila.json").write_text('{"changed": 1}')
    after = devices._cache_key("fake_manila")
    assert before and after and before != after
    assert devices._cache_key("fake_nowhere") is None


def test_an_unknown_device_is_a_key_error(fresh_cache):
    with pytest.raises(KeyError):
        devices.device("fake_nowhere")


def test_a_device_describes_and_does_not_run(fresh_cache):
    ours = devices.device("fake_manila")
    with pytest.raises(NotImplementedError, match="describes a device"):
        ours.run(QuantumCircuit(1))
    assert np.isclose(ours.target["sx"][(0,)].error, fake_backend("fake_manila").target["sx"][(0,)].error)

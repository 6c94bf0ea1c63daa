"""qrt-run loads only Qiskit's own transpiler plugins (qrt_runner.execution.plugins): the same pass
managers and circuits as Qiskit with every plugin, without importing the plugins of other packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Transpiles a few circuits at every level on two fake devices (one with ECR, one with CX gates)
# and prints their gates and layouts and which plugin packages the process imported.
_TRANSPILE = """
import json, sys
from qiskit.circuit.library import efficient_su2
from qiskit.circuit.random import random_circuit
from qiskit import QuantumCircuit
from qrt_runner.execution.devices import device
from qrt_runner.execution.plugins import preset_pass_manager

ghz = QuantumCircuit(5)
ghz.h(0)
for i in range(4):
    ghz.cx(i, i + 1)
ghz.measure_all()
su2 = efficient_su2(4, reps=1).assign_parameters([0.1 * k for k in range(16)])
circuits = [ghz, random_circuit(4, 4, seed=3), su2]


def content(circuit):
    # what the circuit does, gate by gate, and where its qubits went (not its generated name)
    gates = [
        [i.operation.name, [round(float(p), 12) for p in i.operation.params], [circuit.find_bit(q).index for q in i.qubits]]
        for i in circuit.data
    ]
    layout = circuit.layout.final_index_layout() if circuit.layout is not None else None
    return [gates, layout, round(float(circuit.global_phase), 12)]


out = {}
for name in ("fake_manila", "fake_sherbrooke"):
    target = device(name).target
    for level in range(4):
        pm = preset_pass_manager(optimization_level=level, target=target, seed_transpiler=7)
        out[f"{name}-{level}"] = [content(pm.run(c)) for c in circuits]
basis = preset_pass_manager(optimization_level=1, basis_gates=["rz", "sx", "x"])
out["basis"] = content(basis.run(random_circuit(1, 4, seed=5)))
out["imported"] = sorted(m for m in ("qiskit_ibm_runtime", "qiskit_experiments") if m in sys.modules)
print(json.dumps(out))
"""


def _transpile(plugins: str | None) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "QRT_TRANSPILER_PLUGINS"}
    if plugins is not None:
        env["QRT_TRANSPILER_PLUGINS"] = plugins
    proc = subprocess.run(
        [sys.executable, "-c", _TRANSPILE], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.slow
def test_qiskit_plugins_only_give_the_same_circuits_without_importing_other_plugins():
    limited = _transpile("qiskit")
    everything = _transpile(None)
    imported = limited.pop("imported")
    assert imported == [], f"the limited process imported {imported}"
    loaded = everything.pop("imported")
    if _installed("qiskit_ibm_runtime"):  # the test environment has it: the limit is what keeps it out
        assert "qiskit_ibm_runtime" in loaded
    assert limited == everything


def test_a_process_that_built_pass_managers_before_keeps_what_it_loaded(monkeypatch):
    """The limit never changes a namespace that stevedore listed already (this test process has
    built pass managers with every plugin)."""
    from stevedore import ExtensionManager

    from qrt_runner.execution.plugins import limit_to_qiskit_plugins, preset_pass_manager

    preset_pass_manager(optimization_level=0, basis_gates=["rz", "sx", "x", "cx"])  # lists every namespace
    before = {name: list(points) for name, points in ExtensionManager.ENTRY_POINT_CACHE.items()}
    limit_to_qiskit_plugins.cache_clear()
    monkeypatch.setenv("QRT_TRANSPILER_PLUGINS", "qiskit")
    preset_pass_manager(optimization_level=0, basis_gates=["rz", "sx", "x", "cx"])
    after = ExtensionManager.ENTRY_POINT_CACHE
    assert {name: list(after[name]) for name in before} == before


def test_a_third_party_synthesis_of_an_operation_qiskit_cannot_synthesize_is_kept():
    from importlib.metadata import EntryPoint

    from qrt_runner.execution import plugins

    keep = plugins.synthesis_filter({"clifford", "mcx"})
    ours = EntryPoint("clifford.default", "qiskit.transpiler.passes.synthesis.hls_plugins:X", "qiskit.synthesis")
    alternative = EntryPoint("clifford.rb_default", "qiskit_experiments.x:Y", "qiskit.synthesis")
    only_theirs = EntryPoint("my_gate.default", "their_package.synthesis:Z", "qiskit.synthesis")
    assert keep(ours) and keep(only_theirs) and not keep(alternative)


@pytest.mark.slow
def test_qrt_run_sets_the_limit_for_itself_and_its_children(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, sys\n"
        "from qrt_runner.cli.app import main\n"
        "sys.argv = ['qrt-run', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('PLUGINS=' + os.environ.get('QRT_TRANSPILER_PLUGINS', ''))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "QRT_TRANSPILER_PLUGINS"}
    proc = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120, env=env)
    assert "PLUGINS=qiskit" in proc.stdout, proc.stderr
    env["QRT_TRANSPILER_PLUGINS"] = "all"
    proc = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120, env=env)
    assert "PLUGINS=all" in proc.stdout, proc.stderr

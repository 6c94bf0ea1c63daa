"""``qrt-run replay`` and ``qrt-run diff``: bit-identical replays from the run directory and from
the tracking store alone (run directories and input files deleted), variations, drift detection.

Everything runs through the CLI's ``main`` in one process (``tests/cli_batch.py``), in one folder
that holds the tracking store.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import pytest

from conftest import HANG_S, QRT_RUN, REPO

pytestmark = pytest.mark.slow  # CLI runs in subprocesses: the full suite, not make test-fast

GHZ_QASM = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n'
FACTORY = (
    "from qiskit import QuantumCircuit\n\n\ndef build(n=3):\n    qc = QuantumCircuit(n)\n    qc.h(0)\n"
    "    for i in range(n - 1):\n        qc.cx(i, i + 1)\n    qc.measure_all()\n    return qc\n"
)
THREADS = "backend.max_parallel_threads=1"
RUNS = {
    "level2": [
        "experiment=ising_estimator",
        "backend=fake_manila",
        "mitigation=level2",
        "primitive.default_precision=0.1",
        "circuit.parameter_values.num_sets=2",
    ],
    "readout": [
        "experiment=ghz_sampler",
        "backend=fake_manila",
        "mitigation.resilience.measure_mitigation=true",
        "primitive.default_shots=500",
    ],
    "vqe": [
        "experiment=vqe_h2",
        "task.optimizer.name=spsa",
        "task.optimizer.maxiter=4",
        "primitive.default_precision=0.1",
    ],
    "scan": ["experiment=scan_h2", "primitive.default_precision=0.2"],
    "pea": [
        "experiment=ising_estimator",
        "backend=fake_manila",
        "mitigation=pea",
        "primitive.default_precision=0.15",
        "circuit.parameter_values.num_sets=1",
    ],
    "qasm": [
        "primitive=sampler",
        "circuit=qasm",
        "circuit.path=ghz.qasm",
        "observables=none",
        "backend=fake_manila",
        "primitive.default_shots=500",
    ],
    "factory": [
        "primitive=sampler",
        "circuit=factory",
        "circuit.target=ghzfactory:build",
        "observables=none",
        "backend=fake_manila",
        "primitive.default_shots=500",
    ],
}
FILES = {"ghz.qasm": GHZ_QASM, "ghzfactory.py": FACTORY}


def _batch(cases: list[dict]) -> list[dict]:
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


def _run_id(result: dict) -> str:
    return re.search(r"mlflow run: (\w+)", result["stdout"]).group(1)


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    """Each run recorded, replayed from its directory, then from the store with its directory and
    input files deleted, then replayed with a variation."""
    work = tmp_path_factory.mktemp("replay")
    originals = _batch(
        [
            {
                "args": [*args, THREADS, f"hydra.run.dir=runs/{name}"],
                "cwd": str(work),
                "files": FILES if name in ("qasm", "factory") else {},
            }
            for name, args in RUNS.items()
        ]
    )
    for result in originals:
        assert result["code"] == 0 and result["escaped"] is None, result["stderr"]
    ids = {name: _run_id(result) for name, result in zip(RUNS, originals)}
    from_dirs = _batch([{"args": ["replay", f"runs/{name}"], "cwd": str(work)} for name in RUNS])
    from_store = _batch(
        [
            {"args": ["replay", ids[name]], "cwd": str(work), "remove": ["runs", "ghz.qasm", "ghzfactory.py"]}
            for name in RUNS
        ]
    )
    variation = _batch(
        [{"args": ["replay", ids["level2"], "mitigation=none", "backend=fake_quito"], "cwd": str(work)}]
    )[0]
    return work, ids, dict(zip(RUNS, from_dirs)), dict(zip(RUNS, from_store)), variation


@pytest.mark.parametrize("name", list(RUNS))
def test_replay_is_bit_identical_from_the_run_directory_and_from_the_store_alone(replays, name):
    work, ids, from_dirs, from_store, _ = replays
    for result in (from_dirs[name], from_store[name]):
        assert result["escaped"] is None, result["escaped"]
        assert result["code"] == 0, result["stdout"][-2000:] + result["stderr"]
        report = result["stdout"].split("qrt-run replay of", 1)[1]
        assert "differ" not in report and "identical" in report
        assert "config: the same" in report and "environment: the same" in report
    assert f"qrt-run replay of {ids[name]}" in from_store[name]["stdout"]
    assert not glob.glob(
        os.path.join(tempfile.gettempdir(), f"qrt-replay-{ids[name][:8]}-*")
    )  # the download is removed
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    replay = client.get_run(_run_id(from_store[name]))
    assert replay.data.tags["replay_of"] == ids[name] and replay.data.tags["replay_variation"] == "[]"


def test_a_variation_is_recorded_and_its_differences_reported(replays):
    work, ids, _, _, result = replays
    assert result["code"] == 4, result["stderr"]
    report = result["stdout"].split("qrt-run replay of", 1)[1]
    assert "evs: differ (largest |difference|" in report
    assert "backend.name: fake_manila -> fake_quito" in report and "mitigation.resilience_level: 2 -> 0" in report
    assert "device.name: fake_manila -> fake_quito" in report
    from mlflow.tracking import MlflowClient

    replay = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}").get_run(_run_id(result))
    assert json.loads(replay.data.tags["replay_variation"]) == ["mitigation=none", "backend=fake_quito"]


def test_diff_reports_config_inputs_environment_and_results(replays):
    work, ids, _, from_store, variation = replays
    same, different = _batch(
        [
            {"args": ["diff", ids["vqe"], _run_id(from_store["vqe"])], "cwd": str(work)},
            {"args": ["diff", ids["level2"], _run_id(variation)], "cwd": str(work)},
        ]
    )
    assert same["code"] == 0 and "results:\n  optimization.best_energy: identical" in same["stdout"]
    assert different["code"] == 4 and "backend.name: fake_manila -> fake_quito" in different["stdout"]


def test_an_edited_input_file_is_reported_when_the_config_runs_again(tmp_path):
    first, second = _batch(
        [
            {"args": [*RUNS["qasm"], THREADS], "cwd": str(tmp_path), "files": {"ghz.qasm": GHZ_QASM}},
            {
                "args": [*RUNS["qasm"], THREADS],
                "cwd": str(tmp_path),
                "files": {"ghz.qasm": GHZ_QASM.replace("h q[0]", "x q[0]")},
            },
        ]
    )
    assert first["code"] == second["code"] == 0, second["stderr"]
    assert "warning: circuit.path=" not in first["stderr"]
    (line,) = [line for line in second["stderr"].splitlines() if "warning" in line]
    assert "ghz.qasm changed since run " + _run_id(first) in line and "sha256" in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["replay", "0123456789abcdef0123456789abcdef"], "no such run in sqlite:///"),
        (["replay", "empty_dir"], "has no record (config.yaml, results.json missing)"),
        (
            ["replay", "0123456789abcdef0123456789abcdef", "tracking.uri=http://127.0.0.1:9"],
            "tracking.uri='http://127.0.0.1:9': the store cannot be reached",
        ),
        (["replay", "./nowhere/run"], "is neither a run directory nor an MLflow run id"),
        (["diff", "empty_dir"], ""),
        (["--config-dir", "outputs/x/.hydra", "--config-name", "config"], "use qrt-run replay <run dir | run id>"),
    ],
)
def test_bad_replay_input_exits_2_in_one_line(tmp_path, args, fragment):
    (tmp_path / "empty_dir").mkdir()
    proc = subprocess.run([str(QRT_RUN), *args], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    if fragment:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "outputs").exists()


def test_effective_mitigation_options_that_differ_are_reported_with_the_config():
    from qrt_runner.reproduce.compare import compare

    old = {"mitigation": {"effective": {"resilience": {"measure_noise_learning": {"shots_per_randomization": 128}}}}}
    new = {
        "mitigation": {
            "effective": {
                "resilience": {
                    "measure_noise_learning": {"shots_per_randomization": "auto"},
                    "zne": {"shot_allocation": "inverse_sqrt"},
                }
            }
        }
    }
    lines = compare(old, new, {}, {}, replay=True).config
    assert lines == [
        "mitigation (effective) resilience.measure_noise_learning.shots_per_randomization: 128 -> auto",
        "mitigation (effective) resilience.zne.shot_allocation: (absent) -> inverse_sqrt",
    ]
    assert compare(new, new, {}, {}).config == []

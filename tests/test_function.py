"""``qrt-run function``: an experiment as a Qiskit Function.

The entrypoint is run the way a gateway runs it: in a separate virtualenv holding only
qiskit-serverless 0.37 and the function's ``dependencies`` (tests/serverless_env.py), started in
the function folder with ``ARGUMENTS_PATH`` and ``RESULTS_PATH`` set; what it saves is checked
against a local ``qrt-run`` of the same config and seed. The client commands talk to a local
stand-in of the gateway's routes on 127.0.0.1 (tests/gateway_standin.py: a real gateway needs
Docker, which these machines lack), which runs each job's entrypoint in that same environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from gateway_standin import GatewayStandIn
from qrt_runner.cli.app import SUBCOMMAND_NAMES
from qrt_runner.cli.function import function_command
from qrt_runner.function.pack import pack_function
from serverless_env import EnvironmentUnavailable, client_command, serverless_python

ESTIMATOR = ["experiment=h2_estimator", "backend.max_parallel_threads=1", "primitive.default_shots=512"]
SAMPLER = ["experiment=ghz_sampler", "backend.max_parallel_threads=1", "primitive.default_shots=256"]
TOKEN = "qrt-test-t0ken-never-printed"
SUBCOMMANDS = ("pack", "upload", "run", "status", "logs", "result")


def one_line_refusal(capsys, args: list[str]) -> str:
    code = function_command(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("qrt-run: invalid "), err
    return err


def no_gateway(monkeypatch) -> None:
    for variable in (
        "QRT_SERVERLESS_HOST",
        "ENV_GATEWAY_PROVIDER_HOST",
        "QRT_SERVERLESS_TOKEN",
        "ENV_GATEWAY_PROVIDER_TOKEN",
    ):
        monkeypatch.delenv(variable, raising=False)


def test_help_lists_every_command(capsys):
    assert "function" in SUBCOMMAND_NAMES
    assert function_command(["--help"]) == 0
    usage = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert f"  {command} " in usage
        assert function_command([command, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"qrt-run function {command}")
    from qrt_runner.cli.help import help_text

    assert "qrt-run function pack|upload|run|status|logs|result" in help_text()


def test_bad_input_is_one_line_with_exit_2(capsys, tmp_path, monkeypatch):
    no_gateway(monkeypatch)
    assert "unknown command" in one_line_refusal(capsys, ["deploy"])
    assert "needs --out DIR" in one_line_refusal(capsys, ["pack", *SAMPLER])
    assert "experiment=nope: no such option" in one_line_refusal(
        capsys, ["pack", "experiment=nope", "--out", str(tmp_path / "f")]
    )
    assert "sweep it with" in one_line_refusal(capsys, ["pack", "-m", "seed=1,2", "--out", str(tmp_path / "f")])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert "not empty and not a function folder" in one_line_refusal(
        capsys, ["pack", *SAMPLER, "--out", str(tmp_path / "busy")]
    )
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    assert "no such folder" in one_line_refusal(capsys, ["upload", str(tmp_path / "missing")])
    assert "no gateway" in one_line_refusal(capsys, ["status", "job-1"])
    monkeypatch.setenv("QRT_SERVERLESS_HOST", "http://127.0.0.1:9")
    assert "no token" in one_line_refusal(capsys, ["logs", "job-1"])
    assert "takes one job id" in one_line_refusal(capsys, ["status"])
    assert "tracking.KEY=VALUE" in one_line_refusal(capsys, ["result", "job-1", "tracking.colour=red"])
    assert "--fan-out gpu" in one_line_refusal(capsys, ["run", "qrt-x", "--fan-out", "gpu"])


def test_pack_writes_a_function_folder(tmp_path):
    from qrt_runner.config.compose import compose_config
    from qrt_runner.config.spec import resolve_config

    folder = pack_function(ESTIMATOR, tmp_path / "fn")
    data = json.loads((tmp_path / "fn" / "function.json").read_text())
    assert data["title"] == "qrt-h2_estimator" == folder.title
    assert data["entrypoint"] == "entrypoint.py" and (tmp_path / "fn" / "entrypoint.py").is_file()
    assert data["qrt_runner"]["overrides"] == ESTIMATOR
    pins = dict(dependency.split("==") for dependency in data["dependencies"])
    assert len(pins) == len(data["dependencies"]) and all(version for version in pins.values())
    assert {"qiskit", "qiskit-aer", "hydra-core", "numpy", "stim"} <= set(pins) and "mlflow" not in pins
    assert pins["qiskit-ibm-runtime"] in SpecifierSet(">=0.50,<0.51")  # qiskit-serverless 0.37's pin
    expected = resolve_config(compose_config(ESTIMATOR))
    assert yaml.safe_load((tmp_path / "fn" / "config.yaml").read_text()) == expected
    assert (tmp_path / "fn" / "qrt_runner" / "conf" / "config.yaml").is_file()
    assert (tmp_path / "fn" / "qrt_runner" / "experiments" / "h2_estimator.yaml").is_file()
    assert not list((tmp_path / "fn").rglob("__pycache__"))
    schema = data["arguments_schema"]
    jsonschema.validate({"overrides": ["seed=3"], "points": [["seed=1"]], "fan_out": "ray"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"overides": ["seed=3"]}, schema)
    again = pack_function(SAMPLER, tmp_path / "fn", title="ghz")  # an earlier function folder is replaced
    assert again.title == "ghz"
    assert json.loads((tmp_path / "fn" / "function.json").read_text())["qrt_runner"]["overrides"] == SAMPLER


def test_run_checks_a_packed_folders_points_before_any_job_starts(capsys, tmp_path, monkeypatch):
    from qrt_runner.function.points import expand_points

    no_gateway(monkeypatch)  # a check that passed would go on to the gateway: "no gateway"
    folder = str(pack_function(SAMPLER, tmp_path / "fn").path)
    assert "seed=seven: seed='seven'" in one_line_refusal(capsys, ["run", folder, "seed=seven"])
    assert "seed=seven: seed='seven'" in one_line_refusal(capsys, ["run", folder, "-m", "seed=1,seven"])
    assert "interval(0,1): not a list of points" in one_line_refusal(capsys, ["run", folder, "-m", "x=interval(0,1)"])
    assert "glob(*): not a list of points" in one_line_refusal(capsys, ["run", "qrt-x", "-m", "x=glob(*)"])
    assert "no gateway" in one_line_refusal(capsys, ["run", folder, "-m", "seed=1,2", "primitive.default_shots=64"])
    assert "no gateway" in one_line_refusal(capsys, ["run", "qrt-x", "seed=seven"])  # by title: the job checks
    # as Hydra's basic sweeper: every combination, the last key fastest; other overrides as given
    assert expand_points(["~seed", "+a.b=3", "x=1,2", "y=range(0,2)"]) == [
        ["~seed", "+a.b=3", f"x={x}", f"y={y}"] for x in (1, 2) for y in (0, 1)
    ]


def test_pack_refuses_every_input_file_a_run_would_read(capsys, tmp_path):
    from qrt_runner.config.compose import compose_spec
    from qrt_runner.records.provenance import input_files

    model = tmp_path / "model.json"
    model.write_text(json.dumps({"layers": []}))  # a valid (empty) layer noise model
    pec = ["experiment=h2_estimator", "backend=fake_manila", "mitigation=pec"]
    for key, overrides in {
        "mitigation.layer_noise.file": ["mitigation.layer_noise.source=file", f"mitigation.layer_noise.file={model}"],
        "mitigation.resilience.layer_noise_model": [f"mitigation.resilience.layer_noise_model={model}"],
    }.items():
        # the list a local run keeps in inputs/ names the file...
        assert [found for found, _ in input_files(compose_spec([*pec, *overrides]))] == [key]
        # ...and pack refuses it in one line, writing nothing
        err = one_line_refusal(capsys, ["pack", *pec, *overrides, "--out", str(tmp_path / "fn")])
        assert f"{key}={model}: a packed function carries no input files" in err
        assert not (tmp_path / "fn").exists()


def test_fanned_out_points_run_aer_on_the_one_cpu_of_their_task(tmp_path, monkeypatch):
    from qrt_runner.function import entrypoint

    folder = pack_function(["experiment=ghz_sampler", "primitive.default_shots=64"], tmp_path / "fn")
    started = {}

    def record_points(function, points, fan_out):
        started[fan_out] = [overrides for overrides, _ in points]
        return []

    monkeypatch.setattr(entrypoint, "map_points", record_points)
    points = [["seed=1"], ["backend.max_parallel_threads=2"]]
    for fan_out, fanned in (("serial", False), ("ray", True)):
        monkeypatch.setattr(entrypoint, "fans_out", lambda n, how, fanned=fanned: fanned)
        entrypoint.run_function({"points": points, "fan_out": fan_out}, lambda stage: None, folder.path)
    assert started["serial"] == [[*folder.overrides, *point] for point in points]
    assert started["ray"] == [[*folder.overrides, "seed=1", "backend.max_parallel_threads=1"], started["serial"][1]]


def test_a_malformed_job_result_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    from qrt_runner.function.errors import FunctionInputError
    from qrt_runner.function.record import record_job

    good = {"overrides": [], "results": None, "config": None, "exit_code": 2, "error": "bad seed"}
    for runs in ([], [good, {"results": {"status": "FINISHED"}}], [good, "run"], [{**good, "config": [1]}]):
        with pytest.raises(FunctionInputError, match="job-9") as refused:
            record_job({"function": "f", "runs": runs}, "job-9", tmp_path, {"enabled": False})
        assert "\n" not in str(refused.value)
        assert not (tmp_path / "job-9").exists()


class RecordingTracker:
    """What a run's record receives (tags, params), for a record made without a store."""

    run_id = None
    tracked = True

    def __init__(self) -> None:
        self.tags: dict = {}
        self.params: dict = {}

    def start(self, name, tags, *args) -> None:
        self.tags.update(tags)

    def set_tags(self, tags) -> None:
        self.tags.update(tags)

    def log_params(self, params) -> None:
        assert not set(params) & set(self.params)  # MLflow refuses a param logged twice
        self.params.update(params)

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def test_a_function_runs_record_logs_the_effective_mitigation_and_its_tracking(tmp_path, monkeypatch):
    from qrt_runner.config.compose import compose_spec
    from qrt_runner.function import record
    from qrt_runner.function.entrypoint import run_point
    from qrt_runner.tracking import flatten_config

    overrides = ["experiment=h2_estimator", "backend.max_parallel_threads=1", "primitive.default_shots=64"]
    overrides.append("mitigation=level1")
    run = run_point(overrides, str(tmp_path / "point"))  # as the function runs it: tracking off
    assert run["exit_code"] == 0 and run["config"]["tracking"]["enabled"] is False
    tracker = RecordingTracker()
    monkeypatch.setattr(record, "_tracker", lambda run_dir, tracking: tracker)
    tracking = {"enabled": True, "uri": "sqlite:///elsewhere.db", "experiment_name": "mine"}
    (recorded,) = record.record_job({"function": "f", "runs": [run]}, "job-1", tmp_path / "out", tracking)
    assert recorded.status == "FINISHED"
    # as runs/track.py logs a local run: the effective options that the level resolved to (from
    # the spec, not from results.json), and the tracking it is recorded with
    effective = flatten_config(compose_spec(overrides).effective_mitigation.to_dict(), "mitigation_effective")
    assert effective and {key: tracker.params[key] for key in effective} == effective
    assert tracker.params["tracking.enabled"] == "True" and tracker.params["tracking.uri"] == "sqlite:///elsewhere.db"
    assert tracker.params["tracking.experiment_name"] == "mine"
    assert tracker.tags["input.experiment.sha256"] == run["results"]["inputs"][0]["sha256"]
    assert "tracking.enabled=false" not in tracker.tags["overrides"]


@pytest.fixture(scope="module")
def serverless_env(tmp_path_factory):
    """The packed folders and the gateway-like environment for their dependencies."""
    root = tmp_path_factory.mktemp("functions")
    estimator = pack_function([*ESTIMATOR, f"tracking.uri=sqlite:///{root}/mlflow.db"], root / "estimator")
    sampler = pack_function([*SAMPLER, f"tracking.uri=sqlite:///{root}/mlflow.db"], root / "sampler")
    assert estimator.dependencies == sampler.dependencies
    try:
        python, seconds = serverless_python(estimator.dependencies)
    except EnvironmentUnavailable as exc:
        pytest.skip(str(exc))
    print(f"serverless environment: {python} ({seconds:.0f} s to make now)")
    return root, estimator, sampler, python


def local_run(overrides: list[str], run_dir: Path, tracked: bool = False) -> dict:
    """results.json of ``qrt-run <overrides>`` here (this environment, tracking off unless ``tracked``)."""
    from conftest import run_cli

    tracking = [] if tracked else ["tracking.enabled=false"]
    proc = run_cli([*overrides, *tracking, f"hydra.run.dir={run_dir}"], cwd=run_dir.parent)
    assert proc.returncode == 0, proc.stderr
    return json.loads((run_dir / "results.json").read_text())


def start_entrypoint(python: Path, folder: Path, arguments: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """The entrypoint as the gateway starts it: in its folder, ARGUMENTS_PATH and RESULTS_PATH set."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "arguments.json").write_text(json.dumps(arguments))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(ARGUMENTS_PATH=str(tmp_path / "arguments.json"), RESULTS_PATH=str(tmp_path / "out" / "result.json"))
    return subprocess.run(
        [str(python), "entrypoint.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_entrypoint_in_the_gateways_environment_matches_a_local_run(serverless_env, tmp_path):
    from qrt_runner.function.result_view import run_result_from_dict

    _, estimator, _, python = serverless_env
    # the aer simulator, and a fake device's noise model from the calibration that the function's
    # qiskit-ibm-runtime (qiskit-serverless 0.37 pins 0.50) ships: it must be this environment's
    points = [["seed=7"], ["seed=7", "backend=fake_manila"]]
    proc = start_entrypoint(python, estimator.path, {"points": points, "fan_out": "serial"}, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["function"] == "qrt-h2_estimator" and len(saved["runs"]) == 2
    for index, (point, run) in enumerate(zip(points, saved["runs"], strict=True)):
        assert run["exit_code"] == 0 and run["error"] is None
        local = local_run([*estimator.overrides, *point], tmp_path / f"local-{index}")
        remote = run["results"]
        assert remote["status"] == local["status"] == "FINISHED"
        # the same seed: the same numbers, to the bit (shots were sampled: stds are not all 0)
        assert remote["evs"] == local["evs"] and remote["stds"] == local["stds"]
        assert max(max(row) for row in remote["stds"]) > 0
        assert remote["seeds"] == local["seeds"] and remote["observables"] == local["observables"]
        assert remote["device"] == local["device"]  # (the fake device's calibration snapshot)
        # ...in another environment: qiskit-serverless 0.37's qiskit-ibm-runtime, qrt_runner from the folder
        assert remote["versions"]["qiskit-ibm-runtime"].startswith("0.50.")
        assert remote["versions"]["qrt_runner"] == local["versions"]["qrt_runner"]
        assert remote["versions"]["mlflow"] == "unknown"
        assert run["config"]["seed"] == 7 and run["config"]["tracking"]["enabled"] is False
        assert json.loads(json.dumps(run_result_from_dict(remote).to_dict())) == remote
    assert saved["runs"][1]["results"]["evs"] != saved["runs"][0]["results"]["evs"]  # the device's noise
    # arguments a gateway would pass wrongly end the job in one line, exit 2, nothing saved
    bad = start_entrypoint(python, estimator.path, {"overrides": ["seed=seven"]}, tmp_path / "bad")
    assert bad.returncode == 2
    assert [line for line in bad.stderr.splitlines() if line.startswith("qrt-run")] == [
        line for line in bad.stderr.splitlines() if "invalid input" in line
    ]
    assert "seed=seven" in bad.stderr and not (tmp_path / "bad" / "out" / "result.json").exists()


@pytest.mark.slow
def test_client_round_trip_against_a_gateway_stand_in(serverless_env, tmp_path):
    from mlflow.tracking import MlflowClient

    root, _, sampler, python = serverless_env
    allowed = dict(dependency.split("==") for dependency in sampler.dependencies)
    with GatewayStandIn(TOKEN, str(python), allowed=allowed, env={"OMP_NUM_THREADS": "1"}) as gateway:
        env = {**os.environ, "QRT_SERVERLESS_HOST": gateway.url, "QRT_SERVERLESS_TOKEN": TOKEN}
        outputs: list[str] = []

        def cli(*args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
            proc = subprocess.run(
                [*client_command(python), "function", *args],
                env={**env, "QRT_SERVERLESS_TOKEN": token},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
            )
            outputs.extend([proc.stdout, proc.stderr])
            return proc

        uploaded = cli("upload", str(sampler.path))
        assert uploaded.returncode == 0, uploaded.stderr
        started = cli("run", str(sampler.path), "-m", "seed=3,4")  # two points, one job
        assert started.returncode == 0, started.stderr
        job_id = started.stdout.strip()
        failing = cli("run", sampler.title, "seed=seven").stdout.strip()  # checked inside the job, beside the first
        jobs = len(gateway.jobs)
        refused_here = cli("run", str(sampler.path), "seed=seven")  # the folder is here: checked before a job
        assert refused_here.returncode == 2 and refused_here.stderr.count("\n") == 1, refused_here.stderr
        assert "seed='seven'" in refused_here.stderr and len(gateway.jobs) == jobs
        result = cli("result", job_id)
        assert result.returncode == 0, result.stderr
        assert cli("status", job_id).stdout.strip() == "DONE"
        logs = cli("logs", job_id).stdout
        assert "qrt-run: sampler on aer" in logs and logs.count("FINISHED") == 2
        assert gateway.jobs[job_id]["sub_statuses"] == ["MAPPING", "EXECUTING_QPU", "POST_PROCESSING"]
        again = cli("result", job_id)  # recorded once only
        assert again.returncode == 2 and "recorded already" in again.stderr
        failed = cli("result", failing)
        assert failed.returncode == 1, failed.stderr
        assert failed.stderr.count("\n") == 1 and f"function job {failing} ended ERROR" in failed.stderr
        assert "seed=seven" in failed.stderr
        refused = {
            "unknown job": cli("status", "no-such-job"),
            "unknown function": cli("run", "qrt-nothing"),
            "wrong token": cli("status", job_id, token="wrong-token"),
        }
    for what, proc in refused.items():
        assert proc.returncode == 2, (what, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("qrt-run: invalid input: gateway"), proc.stderr
    assert all(TOKEN not in text for text in outputs)
    # the job's runs, recorded here like local runs
    points = [tmp_path / "function_runs" / job_id / f"point-{index}" for index in (0, 1)]
    saved = [json.loads((point / "results.json").read_text()) for point in points]
    assert [data["seeds"]["seed"] for data in saved] == [3, 4]
    local = local_run([*sampler.overrides, "seed=3"], tmp_path / "local", tracked=True)
    assert saved[0]["counts"] == local["counts"] and sum(saved[0]["counts"][0].values()) == 256
    assert saved[1]["counts"] != saved[0]["counts"]
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("qrt_runner").experiment_id
    runs = client.search_runs([experiment], f"tags.`serverless.job_id` = '{job_id}'", order_by=["params.seed"])
    assert [run.data.params["seed"] for run in runs] == ["3", "4"]
    tracked = runs[0]
    assert tracked.info.status == "FINISHED"
    assert tracked.data.tags["serverless.function"] == sampler.title
    assert tracked.data.tags["run_dir"] == str(points[0].resolve())
    assert tracked.data.params["primitive.name"] == "sampler"
    assert tracked.data.metrics["shots"] == 256 and tracked.data.metrics["distinct_outcomes"] == len(
        saved[0]["counts"][0]
    )
    artifacts = {item.path for item in client.list_artifacts(tracked.info.run_id)}
    assert {"results.json", "config.yaml"} <= artifacts
    # recorded as the same run here would be: the same params and metrics, the same tags but where it ran
    (here,) = client.search_runs([experiment], f"tags.run_dir = '{(tmp_path / 'local').resolve()}'")
    assert tracked.data.params == here.data.params and tracked.data.params["tracking.enabled"] == "True"
    assert set(tracked.data.metrics) == set(here.data.metrics)
    assert set(tracked.data.tags) - set(here.data.tags) == {"serverless.job_id", "serverless.function"}
    assert set(here.data.tags) - set(tracked.data.tags) == set()
    for tag in ("config_hash", "objective_name", "input.experiment.sha256", "task"):
        assert tracked.data.tags[tag] == here.data.tags[tag], tag
    assert all(TOKEN not in json.dumps(run.data.to_dictionary()) for run in runs)


RAY_SCRIPT = """
import json, os, sys
import ray
from qrt_runner.function.entrypoint import run_function
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
arguments = {"overrides": ["seed=5"], "points": [["primitive.default_shots=64"], ["primitive.default_shots=128"]]}
fanned = run_function({**arguments, "fan_out": "ray"}, lambda stage: None, sys.argv[1])
ray.shutdown()
serial = run_function({**arguments, "fan_out": "serial"}, lambda stage: None, sys.argv[1])
print(json.dumps({"driver": os.getpid(), "ray": fanned["runs"], "serial": serial["runs"]}))
"""


@pytest.mark.slow
def test_points_fan_out_as_ray_tasks(tmp_path):
    pytest.importorskip("ray")
    folder = pack_function(SAMPLER, tmp_path / "fn")
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", RAY_SCRIPT, str(folder.path)], capture_output=True, text=True, timeout=240, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    fanned, serial = out["ray"], out["serial"]
    assert [run["worker"]["pid"] for run in serial] == [out["driver"]] * 2
    assert all(run["worker"]["pid"] != out["driver"] for run in fanned)  # ran in Ray's worker processes
    assert [run["overrides"] for run in fanned] == [run["overrides"] for run in serial]
    assert [run["results"]["counts"] for run in fanned] == [run["results"]["counts"] for run in serial]
    assert [sum(run["results"]["counts"][0].values()) for run in fanned] == [64, 128]


@pytest.mark.slow
def test_no_package_index_skips_the_gateway_tests_saying_why(tmp_path, monkeypatch):
    from serverless_env import SERVERLESS_REQUIREMENT

    (tmp_path / "wheels").mkdir()
    monkeypatch.setenv("QRT_SERVERLESS_VENV_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: only an empty folder of wheels
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    with pytest.raises(EnvironmentUnavailable, match="no package index answers") as refused:
        serverless_python(["numpy==2.0.0"])
    assert SERVERLESS_REQUIREMENT in str(refused.value) and "No matching distribution" in str(refused.value)
    assert [path.name for path in (tmp_path / "cache").iterdir() if path.is_dir()] == []  # nothing half-made

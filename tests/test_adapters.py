"""The adapters (qrt_runner/adapters/): each works against the installed library, accepts its
installed version, refuses one outside its range with a clear message, and declares the range that
pyproject.toml declares."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import logging
import platform
import sqlite3
import subprocess
import sys
import tomllib
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Optional

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from qrt_runner import adapters
from qrt_runner.adapters import (
    hydra,
    loky,
    mlflow,
    omegaconf,
    optuna,
    python,
    qiskit_aer,
    qiskit_ibm_runtime,
    stevedore,
)
from qrt_runner.adapters.versions import PYTHON, UnsupportedVersion

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = [hydra, omegaconf, mlflow, loky, qiskit_aer, qiskit_ibm_runtime, optuna, python, stevedore]
# a version outside each range, for the refusal tests
UNSUPPORTED = {
    "hydra-core": "1.4.0",
    "hydra-joblib-launcher": "2.0.0",
    "hydra-optuna-sweeper": "1.1.2",
    "omegaconf": "2.4.0",
    "mlflow": "2.22.0",
    "joblib": "1.6.0",
    "qiskit-aer": "0.19.0",
    "qiskit-ibm-runtime": "0.49.0",  # below 0.50: no client-side primitives
    "optuna": "3.0.0",
    "stevedore": "6.0.0",
    PYTHON: "3.10.14",
}
_IDS = [module.__name__.rpartition(".")[2] for module in ADAPTERS]


def _run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---------------------------------------------------------------- every adapter


@pytest.mark.parametrize("adapter", ADAPTERS, ids=_IDS)
def test_the_installed_versions_are_supported(adapter):
    adapter.check_supported()


@pytest.mark.parametrize(
    ("adapter", "package"),
    [(adapter, package) for adapter in ADAPTERS for package in adapter.SUPPORTED],
    ids=[f"{name}-{package}" for name, adapter in zip(_IDS, ADAPTERS) for package in adapter.SUPPORTED],
)
def test_an_unsupported_version_is_refused_by_name_version_and_range(monkeypatch, adapter, package):
    bad = UNSUPPORTED[package]
    if package == PYTHON:
        monkeypatch.setattr(platform, "python_version", lambda: bad)
    else:
        real = metadata.version
        monkeypatch.setattr(metadata, "version", lambda name: bad if name == package else real(name))
    supported = adapter.SUPPORTED[package]
    assert not SpecifierSet(supported).contains(bad)
    with pytest.raises(UnsupportedVersion) as caught:
        adapter.check_supported()
    message = str(caught.value)
    assert adapter.__name__ in message
    assert f"{package}{supported}" in message
    assert bad in message
    assert (caught.value.package, caught.value.installed, caught.value.supported) == (package, bad, supported)


def test_a_missing_package_is_refused(monkeypatch):
    def version(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", version)
    with pytest.raises(UnsupportedVersion, match=r"mlflow is not installed: install a version in that range"):
        mlflow.check_supported()


def _pyproject_ranges() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = {PYTHON: SpecifierSet(project["requires-python"])}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        ranges[canonicalize_name(requirement.name)] = requirement.specifier
    return ranges


@pytest.mark.parametrize("adapter", ADAPTERS, ids=_IDS)
def test_each_supported_range_is_the_range_pyproject_declares(adapter):
    ranges = _pyproject_ranges()
    for package, supported in adapter.SUPPORTED.items():
        name = package if package == PYTHON else canonicalize_name(package)
        assert name in ranges, f"{package} is not a dependency in pyproject.toml; add it with {supported}"
        assert ranges[name] == SpecifierSet(supported), (
            f"pyproject.toml declares {package}{ranges[name]}, {adapter.__name__} was checked against {supported}"
        )


def test_adapters_import_only_errors_and_each_other_from_qrt_runner():
    for path in Path(adapters.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name == "qrt_runner" or name.startswith("qrt_runner."):
                    assert name in ("qrt_runner.errors", "qrt_runner.adapters") or name.startswith(
                        "qrt_runner.adapters."
                    ), f"{path.name} imports {name}"


def test_importing_the_adapters_imports_none_of_the_libraries():
    modules = ", ".join(f"qrt_runner.adapters.{name}" for name in _IDS)
    libraries = [
        "hydra",
        "omegaconf",
        "mlflow",
        "joblib",
        "qiskit",
        "qiskit_aer",
        "qiskit_ibm_runtime",
        "optuna",
        "stevedore",
    ]
    out = _run_python(f"import sys\nimport {modules}\nprint(sorted(m for m in {libraries!r} if m in sys.modules))\n")
    assert out.strip() == "[]"


# ---------------------------------------------------------------- each adapter against its library


def test_hydra_adapter_composes_overrides_as_hydras_config_loader_does(tmp_path):
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode
    from omegaconf import OmegaConf, read_write

    (tmp_path / "config.yaml").write_text("a: 1\nb:\n  c: x\n  d: [1, 2]\n")
    overrides = ["b.c=y", "a=2", "+e=3", "b.d=[3]"]
    with initialize_config_dir(config_dir=str(tmp_path), version_base=None):
        loader = GlobalHydra.instance().config_loader()
        assert isinstance(loader, hydra.config_loader_class())
        assert callable(hydra.config_loader_class().load_sweep_config)
        master = loader.load_configuration("config", overrides=[], run_mode=RunMode.MULTIRUN)
        composed = loader.load_sweep_config(master, overrides)  # Hydra's own composition
        derived = loader.load_sweep_config(master, [])
        parsed = OverridesParser.create().parse_overrides(overrides)
        with read_write(derived):
            hydra.apply_overrides(parsed, derived)
        assert {k: v for k, v in OmegaConf.to_container(derived).items() if k != "hydra"} == {
            k: v for k, v in OmegaConf.to_container(composed).items() if k != "hydra"
        }
        dirname = composed.hydra.job.config.override_dirname
        assert composed.hydra.job.override_dirname == "+e=3,a=2,b.c=y,b.d=[3]"
        assert (
            hydra.overrides_dirname(
                parsed, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep, exclude_keys=list(dirname.exclude_keys)
            )
            == composed.hydra.job.override_dirname
        )
        assert hydra.overrides_dirname(parsed, kv_sep="-", item_sep="_", exclude_keys=["a"]) == "+e-3_b.c-y_b.d-[3]"


def test_hydra_adapter_names_the_plugins_module_logger_and_words():
    core = importlib.import_module(hydra.JOBLIB_LAUNCHER_MODULE)
    assert callable(core.launch)
    impl = importlib.import_module(hydra.OPTUNA_SWEEPER_LOGGER)
    assert impl.log.name == hydra.OPTUNA_SWEEPER_LOGGER
    assert "Got '{ret.return_value}'" in inspect.getsource(impl)  # the sweeper's words for a trial's None
    value = None
    assert hydra.reports_trial_without_objective(f"Return value must be float-castable. Got '{value}'.")
    assert not hydra.reports_trial_without_objective("Return value must be float-castable. Got 'abc'.")


@dataclass
class _Inner:
    v: int = 1


@dataclass
class _Outer:
    inner: Optional[_Inner] = None  # noqa: UP045 - OmegaConf 2.3 reads typing.Optional, not X | None
    other: _Inner = field(default_factory=_Inner)
    broken: int = "${nowhere}"  # type: ignore[assignment]
    missing: int = "???"  # type: ignore[assignment]


def test_omegaconf_adapter_reads_nodes_unresolved():
    from omegaconf import DictConfig, Node, OmegaConf

    cfg = OmegaConf.structured(_Outer)
    inner, other = omegaconf.child_node(cfg, "inner"), omegaconf.child_node(cfg, "other")
    assert isinstance(inner, DictConfig) and omegaconf.is_none_node(inner)
    assert isinstance(other, DictConfig) and not omegaconf.is_none_node(other) and other == cfg.other
    for key in ("broken", "missing"):  # reading them through cfg.<key> raises
        assert isinstance(omegaconf.child_node(cfg, key), Node)
        assert not omegaconf.is_none_node(omegaconf.child_node(cfg, key))


def test_mlflow_adapter_reads_the_tags_of_a_real_store(tmp_path):
    from mlflow import MlflowClient

    db = tmp_path / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.create_experiment("adapters", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment, tags={"qrt.config_hash": "abc"})
    client.set_tag(run.info.run_id, "other", "xyz")
    assert mlflow.sqlite_has_run_tag(db, "qrt.config_hash", ["nope", "abc"]) is True
    assert mlflow.sqlite_has_run_tag(db, "qrt.config_hash", [f"v{k}" for k in range(1200)] + ["abc"]) is True
    assert mlflow.sqlite_has_run_tag(db, "qrt.config_hash", ["xyz"]) is False
    assert mlflow.sqlite_has_run_tag(db, "qrt.config_hash", []) is False
    assert mlflow.sqlite_has_run_tag(tmp_path / "none.db", "qrt.config_hash", ["abc"]) is None
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    assert mlflow.sqlite_has_run_tag(other, "qrt.config_hash", ["abc"]) is None  # not MLflow's schema
    store = importlib.import_module(mlflow.SQL_STORE_MODULE)
    assert store.SqlAlchemyStore.__module__ == mlflow.SQL_STORE_MODULE


def test_loky_adapter_sets_and_reads_back_the_start_method(monkeypatch):
    from joblib.externals.loky import get_reusable_executor
    from joblib.externals.loky.backend import context

    monkeypatch.setattr(context, "_DEFAULT_START_METHOD", None)  # restored after the test
    assert loky.start_method() is None
    loky.set_start_method("spawn")
    assert loky.start_method() == "spawn"
    assert context.get_context().get_start_method() == "spawn"  # what loky starts its workers with
    with pytest.raises(RuntimeError):
        loky.set_start_method("forkserver")  # loky keeps the one set
    executor = get_reusable_executor(max_workers=1)
    try:
        assert loky.running_reusable_executor() is executor
    finally:
        executor.shutdown(wait=True, kill_workers=True)


def test_python_adapter_runs_exit_functions_and_finds_the_forkserver():
    out = _run_python(
        "import atexit, multiprocessing, os, sys\n"
        "from qrt_runner.adapters import python\n"
        "print(python.forkserver_pid())\n"
        "if sys.platform != 'win32':\n"
        "    multiprocessing.set_forkserver_preload([])\n"
        "    python.ensure_forkserver_running()\n"
        "    pid = python.forkserver_pid()\n"
        "    os.kill(pid, 0)\n"
        "    python.ensure_forkserver_running()\n"
        "    print(pid == python.forkserver_pid())\n"
        "atexit.register(print, 'exit function')\n"
        "python.run_exit_functions()\n"
        "print('after')\n"
        "sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    expected = ["None", "True", "exit function", "after"] if sys.platform != "win32" else ["None", "exit function"]
    assert out.split("\n")[: len(expected)] == expected


def test_qiskit_aer_adapter_reads_and_extends_a_real_noise_model():
    from qiskit import QuantumCircuit
    from qiskit.providers.fake_provider import GenericBackendV2
    from qiskit_aer.noise import LocalNoisePass, NoiseModel, QuantumError, ReadoutError, depolarizing_error

    model = NoiseModel()
    one, two = depolarizing_error(0.01, 1), depolarizing_error(0.02, 2)
    model.add_all_qubit_quantum_error(one, ["sx", "x"])
    model.add_quantum_error(two, "cx", [0, 1])
    everywhere, on_0 = ReadoutError([[0.95, 0.05], [0.05, 0.95]]), ReadoutError([[0.9, 0.1], [0.1, 0.9]])
    model.add_all_qubit_readout_error(everywhere)
    model.add_readout_error(on_0, [0])
    assert qiskit_aer.quantum_error(model, "cx", (0, 1)) == two
    assert qiskit_aer.quantum_error(model, "sx", (3,)) == one
    assert qiskit_aer.quantum_error(model, "cx", (1, 2)) is None
    assert qiskit_aer.has_quantum_error(model, "cx") and not qiskit_aer.has_quantum_error(model, "measure")
    assert sorted(error.num_qubits for error in qiskit_aer.all_quantum_errors(model)) == [1, 1, 2]
    assert qiskit_aer.readout_error(model, 0) == on_0 and qiskit_aer.readout_error(model, 1) == everywhere
    assert not qiskit_aer.has_nonlocal_errors(model)
    assert qiskit_aer.custom_noise_passes(model) == [] and qiskit_aer.noise_pass_manager(model) is None
    serialised = json.loads(json.dumps(model.to_dict(False), cls=qiskit_aer.json_encoder()))
    assert serialised == model.to_dict(True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        device = NoiseModel.from_backend(GenericBackendV2(num_qubits=2, seed=1))
    (relaxation,) = qiskit_aer.custom_noise_passes(device)  # the thermal relaxation of delays
    func, op_types, method = qiskit_aer.local_noise_pass_parts(relaxation)
    assert callable(func) and [t.__name__ for t in op_types] == ["Delay"] and method == "append"

    class Kept(NoiseModel):
        pass

    copied = qiskit_aer.copy_noise_model(model, Kept)
    assert type(copied) is Kept and copied.to_dict() == model.to_dict()
    qiskit_aer.add_custom_noise_pass(copied, LocalNoisePass(func, op_types=op_types, method=method))
    assert qiskit_aer.custom_noise_passes(model) == []  # a deep copy
    circuit = QuantumCircuit(1)
    circuit.delay(1000, 0, unit="dt")
    noisy = qiskit_aer.noise_pass_manager(copied).run(circuit)
    assert [instruction.operation.name for instruction in noisy.data] == ["delay", "quantum_channel"]
    assert qiskit_aer.channel_error(noisy.data[0].operation) is None
    assert isinstance(qiskit_aer.channel_error(noisy.data[1].operation), QuantumError)
    assert isinstance(qiskit_aer.channel_error(one.to_instruction()), QuantumError)


def test_qiskit_ibm_runtime_adapter_knows_ibms_unset():
    out = _run_python(
        "import sys\n"
        "from qrt_runner.adapters.qiskit_ibm_runtime import is_unset\n"
        "print(is_unset(None), 'qiskit_ibm_runtime' in sys.modules)\n"
    )
    assert out.split() == ["False", "False"]  # telling imports nothing
    from qiskit_ibm_runtime.options import EstimatorOptions

    options = EstimatorOptions()
    assert qiskit_ibm_runtime.is_unset(options.default_precision)  # left to the service's default
    assert qiskit_ibm_runtime.is_unset(qiskit_ibm_runtime.unset())
    assert not qiskit_ibm_runtime.is_unset(None) and not qiskit_ibm_runtime.is_unset(0)
    options.default_precision = 0.01
    options.default_precision = qiskit_ibm_runtime.unset()  # IBM takes it back
    assert qiskit_ibm_runtime.is_unset(options.default_precision)


def test_optuna_adapter_tells_a_study_without_a_completed_trial():
    import optuna as optuna_library

    optuna_library.logging.set_verbosity(logging.WARNING)
    study = optuna_library.create_study()
    with pytest.raises(ValueError) as caught:
        _ = study.best_trial
    assert optuna.is_no_completed_trial_error(caught.value)
    assert not optuna.is_no_completed_trial_error(ValueError("another"))
    assert not optuna.is_no_completed_trial_error(RuntimeError("No trials are completed yet."))


def test_stevedore_adapter_narrows_what_a_namespace_offers():
    out = _run_python(
        "from stevedore import ExtensionManager\n"
        "from qrt_runner.adapters import stevedore\n"
        "name = 'qiskit.transpiler.routing'\n"
        "assert stevedore.limit_entry_points(name, lambda point: point.name in ('sabre', 'basic'))\n"
        "assert not stevedore.limit_entry_points(name, lambda point: True)  # listed already: kept\n"
        "print(sorted(ExtensionManager(name, invoke_on_load=False).names()))\n"
    )
    assert out.strip() == "['basic', 'sabre']"

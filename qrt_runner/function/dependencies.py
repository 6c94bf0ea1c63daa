"""The ``dependencies`` of a packed function: what its entrypoint imports, each pinned with ``==``.

A gateway takes one fixed version per dependency (``name==version``) and installs only those its
administrator allows (the ``requirements-dynamic-dependencies.txt`` its nodes are built with);
qrt_runner itself travels in the function folder. The pins are the versions this environment runs
(the local run the function reproduces), except where qiskit-serverless, which the gateway's
nodes run, pins a package otherwise: then the newest release inside its pin.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, requires, version

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from qrt_runner.function.errors import FunctionInputError

__all__ = ["CLIENT_ONLY", "SERVERLESS_PINS", "function_dependencies"]

#: qrt_runner's requirements the function does not import: tracking is recorded by the client
#: (qrt-run function result), and a function runs no Hydra sweep.
CLIENT_ONLY = frozenset(
    {"mlflow", "hydra-joblib-launcher", "hydra-submitit-launcher", "hydra-optuna-sweeper", "joblib", "optuna"}
)

#: qiskit-serverless 0.37's own pins (its Requires-Dist), with the release chosen inside each.
SERVERLESS_PINS = {"qiskit-ibm-runtime": (SpecifierSet(">=0.50,<0.51"), "0.50.0")}


def function_dependencies() -> list[str]:
    """``name==version`` for each requirement of qrt_runner that the function imports."""
    try:
        declared = requires("qrt_runner") or []
    except PackageNotFoundError as exc:
        raise FunctionInputError(
            "qrt_runner is not installed (no metadata to pin its dependencies from); pip install it"
        ) from exc
    pins = []
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if requirement.marker is not None or name in CLIENT_ONLY:
            continue
        pins.append(f"{name}=={_pinned_version(name, requirement.specifier)}")
    return sorted(pins)


def _pinned_version(name: str, declared: SpecifierSet) -> str:
    """The installed version, or qiskit-serverless's choice where it pins the package otherwise."""
    try:
        installed = version(name)
    except PackageNotFoundError as exc:
        raise FunctionInputError(f"{name} is not installed here; pip install 'qrt_runner' to pack a function") from exc
    if name in SERVERLESS_PINS:
        allowed, chosen = SERVERLESS_PINS[name]
        if installed not in allowed:
            if chosen not in declared:  # qrt_runner's own range and qiskit-serverless's do not meet
                raise FunctionInputError(f"{name}: qrt_runner needs {declared}, qiskit-serverless 0.37 needs {allowed}")
            return chosen
    return installed

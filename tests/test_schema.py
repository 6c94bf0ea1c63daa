"""qrt-run schema: the config's JSON Schema accepts every shipped experiment and option file and
flags what build_spec refuses (unknown keys, values out of range); and the README's layer graph
is the one make deps draws."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from conftest import HANG_S, REPO, run_cli
from qrt_runner.config.json_schema import config_json_schema


@pytest.fixture(scope="module")
def validator():
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, document) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


@pytest.mark.parametrize("path", sorted((REPO / "experiments").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_experiment_is_valid(validator, path):
    assert _errors(validator, yaml.safe_load(path.read_text()) or {}) == []


@pytest.mark.parametrize(
    "path", sorted(p for p in (REPO / "conf").glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_every_option_file_is_valid_for_its_group(validator, path):
    document = yaml.safe_load(path.read_text()) or {}
    document.pop("defaults", None)
    assert _errors(validator, {path.parent.name: document}) == []


@pytest.mark.parametrize(
    "document",
    [
        {"circuit": {"num_qubit": 3}},  # a typo
        {"session": {"mode": "jobb"}},
        {"transpile": {"optimization_level": 4}},
        {"circuit": {"name": "ghz", "num_qubits": 0}},
        {"mitigation": {"resilience": {"zne": {"noise_factors": [1, 0.5]}}}},
        {"seed": -1},
        {"unknown_group": {}},
    ],
    ids=str,
)
def test_what_build_spec_refuses_the_schema_flags(validator, document):
    assert _errors(validator, document)


def test_interpolations_are_accepted(validator):
    assert (
        _errors(validator, {"backend": {"seed_simulator": "${seed}"}, "circuit": {"num_qubits": "${oc.env:N}"}}) == []
    )


def test_the_command_writes_the_schema_and_refuses_other_arguments(tmp_path):
    written = run_cli(["schema", "--out", "editor/qrt.schema.json"], cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert json.loads((tmp_path / "editor/qrt.schema.json").read_text()) == config_json_schema()
    printed = run_cli(["schema"], cwd=tmp_path)
    assert json.loads(printed.stdout) == config_json_schema()
    refused = run_cli(["schema", "--format", "yaml"], cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "qrt-run: invalid input: --format yaml: qrt-run schema takes only --out FILE"
    ]


def test_the_readme_layer_graph_is_current():
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "draw_layers.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert done.returncode == 0, done.stderr

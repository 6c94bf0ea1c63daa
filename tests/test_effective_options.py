"""The effective mitigation options of every preset, as the flat options class produced them.

``tests/fixtures/effective_mitigation.json`` was captured from the flat ``EffectiveMitigation``
(before the options became a nested tree): ``to_dict()`` must give the same JSON text byte for
byte (results.json's ``mitigation.effective``), MLflow's ``mitigation_effective.*`` params the same
strings, and the convenience properties the same values. Each key is ``preset|variant|primitive``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qrt_runner.config.compose import compose_spec
from qrt_runner.errors import ConfigError
from qrt_runner.mitigation.options import finalize
from qrt_runner.tracking.content import flatten_config

FIXTURE = Path(__file__).parent / "fixtures" / "effective_mitigation.json"
EXPECTED: dict[str, dict] = json.loads(FIXTURE.read_text())
VARIANTS = {
    "": [],
    "dd_on": ["mitigation.dynamical_decoupling.enable=true"],
    "twirl_auto_shots": ["mitigation.twirling.num_randomizations=8", "mitigation.twirling.shots_per_randomization=16"],
    "pea": ["mitigation.resilience.zne_mitigation=true", "mitigation.resilience.zne.amplifier=pea"],
}
PRESETS = sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "mitigation").glob("*.yaml"))


def test_fixture_covers_every_preset():
    assert {key.split("|")[0] for key in EXPECTED} == set(PRESETS)
    assert len(EXPECTED) == len(PRESETS) * len(VARIANTS) * 2


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_to_dict_matches_flat_options(key):
    preset, variant, primitive = key.split("|")
    overrides = ["backend=fake_manila", f"mitigation={preset}", *VARIANTS[variant]]
    if primitive == "sampler":
        overrides.append("primitive=sampler")
    expected = EXPECTED[key]
    if "error" in expected:
        with pytest.raises(ConfigError) as info:
            spec = compose_spec(overrides)
            finalize(spec.mitigation, primitive=primitive)
        assert str(info.value) == expected["error"]
        return
    spec = compose_spec(overrides)
    effective = spec.effective_mitigation
    assert effective == finalize(spec.mitigation, primitive=primitive)
    assert json.dumps(effective.to_dict()) == expected["json"]
    assert flatten_config(effective.to_dict(), "mitigation_effective") == expected["mlflow"]  # lists, not tuples
    assert (effective.active, effective.pea, effective.needs_layer_noise) == (
        expected["active"],
        expected["pea"],
        expected["needs_layer_noise"],
    )
    assert hash(effective) == hash(finalize(spec.mitigation, primitive=primitive))

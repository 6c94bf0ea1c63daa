"""Nearest-probability projection of the Sampler's readout-mitigated quasi-distributions, and the
cost of mitigation in every job's record (estimator and sampler)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FAST, run_cli, spec_for
from qrt_runner.mitigation.projection import nearest_probability, nearest_probability_dist
from qrt_runner.tasks.runner import run_experiment


def test_projection_is_the_nearest_point_of_the_simplex():
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    for _ in range(5):
        quasi = rng.normal(0.1, 0.2, 6)
        quasi /= quasi.sum()
        projected = nearest_probability(quasi)
        best = minimize(
            lambda p, q=quasi: np.sum((p - q) ** 2),
            np.full(6, 1 / 6),
            method="SLSQP",
            bounds=[(0, None)] * 6,
            constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1}],
            options={"ftol": 1e-15},
        )
        np.testing.assert_allclose(projected, best.x, atol=1e-6)
        assert projected.sum() == pytest.approx(1.0) and projected.min() >= 0
    np.testing.assert_allclose(
        nearest_probability([0.6, 0.5, -0.1]), [0.55, 0.45, 0.0]
    )  # not 0.545, 0.455 (clip + renormalise)
    assert nearest_probability_dist({"00": 0.7, "11": 0.3}) == {"00": 0.7, "11": 0.3}  # a distribution stays as it is
    assert nearest_probability_dist({"00": 0.62, "01": -0.04, "11": 0.42}) == pytest.approx({"00": 0.6, "11": 0.4})


SAMPLER = [
    "experiment=ghz_sampler",
    "circuit.num_qubits=4",
    "backend=fake_manila",
    "primitive.default_shots=4096",
    *FAST,
]


def test_sampler_reports_raw_quasi_probabilities_and_their_nearest_distribution():
    result = run_experiment(spec_for([*SAMPLER, "mitigation.resilience.measure_mitigation=true"]))
    sampler = result.sampler
    raw, nearest = sampler.quasi_dists[0], sampler.nearest_probability_dists[0]
    assert min(raw.values()) < 0  # readout inversion of a noisy GHZ state leaves negative values
    assert min(nearest.values()) > 0 and sum(nearest.values()) == pytest.approx(1.0)
    assert set(nearest) <= set(raw)
    projected = nearest_probability_dist(raw)
    assert nearest == pytest.approx(projected)
    # closer to the ideal GHZ distribution than the clipped quasi-probabilities and the raw counts
    assert (
        sampler.hellinger_fidelity_nearest[0] > sampler.hellinger_fidelity_mitigated[0] > sampler.hellinger_fidelity[0]
    )
    data = result.to_dict()
    assert data["nearest_probability_dists"][0] == pytest.approx(nearest) and data["quasi_dists"][0] == pytest.approx(
        raw
    )
    off = run_experiment(
        spec_for(
            [
                *SAMPLER,
                "mitigation.resilience.measure_mitigation=true",
                "mitigation.resilience.nearest_probability=false",
            ]
        )
    )
    assert off.sampler.quasi_dists[0] == pytest.approx(raw) and off.sampler.nearest_probability_dists is None
    assert "nearest_probability_dists" not in off.to_dict()


def test_nearest_probability_is_refused_on_the_estimator():
    from qrt_runner.errors import ConfigError

    with pytest.raises(ConfigError, match=r"mitigation.resilience.nearest_probability=True: applies to the sampler's"):
        spec_for(["mitigation=level1", "mitigation.resilience.nearest_probability=true"])


def test_sampler_job_record_holds_simulator_and_combining_seconds():
    result = run_experiment(
        spec_for([*SAMPLER, "mitigation.twirling.enable_measure=true", "mitigation.resilience.measure_mitigation=true"])
    )
    job = result.to_dict()["mitigation"]["jobs"][0]
    by_technique = job["simulate_s_by_technique"]
    assert set(by_technique) == {"circuits", "readout_calibration"} and min(by_technique.values()) > 0
    assert job["simulate_s"] == pytest.approx(sum(by_technique.values()))
    assert 0 < job["simulate_s"] <= result.jobs[0].usage_s * 1.0001
    assert job["combine_s"] > 0


@pytest.mark.parametrize(
    "preset,techniques",
    [("level2", {"circuits", "zne", "trex"}), ("pea", {"circuits", "pea", "trex"}), ("pec", {"pec", "trex"})],
)
def test_estimator_job_record_holds_simulator_seconds_per_technique(tmp_path, preset, techniques):
    proc = run_cli(
        [
            "backend=fake_manila",
            f"mitigation={preset}",
            "primitive.default_precision=0.05",
            "hydra.run.dir=out",
            "tracking.enabled=false",
            *FAST,
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    (job,), (record,) = results["mitigation"]["jobs"], results["jobs"]
    assert set(job["simulate_s_by_technique"]) == techniques and min(job["simulate_s_by_technique"].values()) > 0
    assert job["simulate_s"] == pytest.approx(sum(job["simulate_s_by_technique"].values()))
    assert 0 < job["simulate_s"] <= record["usage_s"] * 1.0001
    assert job["combine_s"] > 0 and job["build_s"] >= 0

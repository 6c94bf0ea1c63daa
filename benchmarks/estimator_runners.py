"""qrt_runner's Estimator and IBM's client-side Estimator on the same ISA circuit, timed alike.

Both sides get the same ISA circuit (transpiled once, untimed, at optimization level 1 as the
issue's IBM script does) with the observables on its layout, the same options (a resilience
level and ``default_shots``; everything else is each side's default, as a user gets it: both
sides' Aer on every core) and the same simulator seed. qrt_runner runs through ``LocalBackend``
and the process-wide simulator executor that ``qrt-run`` uses (the simulator child process,
started once, untimed); IBM's through ``qiskit_ibm_runtime.executor_estimator.Estimator(mode=<fake device>)`` in local mode.
A job's wall time is from ``run()`` to its result. Before every timed job the garbage collector
runs (untimed), so that neither side pays for the other's garbage.
"""

from __future__ import annotations

import gc
import json
import time
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

SEED_STRIDE = 10_000_019  # seed s runs with Aer seed s * SEED_STRIDE (Aer seeds shot k with seed + k)
LEVELS = {"level0": 0, "level1": 1, "level2": 2}


def isa_case(device: str, circuit, observables):
    """The ISA circuit for ``device`` (optimization level 1, seed_transpiler 0) and the observables on its layout."""
    from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

    from qrt_runner.execution.fake_backends import fake_backend

    manager = generate_preset_pass_manager(optimization_level=1, backend=fake_backend(device), seed_transpiler=0)
    isa = manager.run(circuit)
    return isa, [op.apply_layout(isa.layout) for op in observables]


def _content(circuit) -> str:
    """A hash of the circuit's instructions (names, parameters, qubit indices): unlike its QPY
    bytes, independent of the names the transpiler gave its registers in this process."""
    import hashlib

    text = repr(
        [
            (i.operation.name, [float(p) for p in i.operation.params], [circuit.find_bit(q).index for q in i.qubits])
            for i in circuit.data
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextmanager
def distinct_aer_seeds():
    """Every ``AerSamplerV2.run`` call gets its own seed, drawn from the sampler's seed and the call's number."""
    from qiskit_aer.primitives import SamplerV2

    original = SamplerV2.run

    def run(self, pubs, shots=None):
        self._qrt_calls = getattr(self, "_qrt_calls", 0) + 1
        if self._seed is not None:
            self._qrt_base = getattr(self, "_qrt_base", self._seed)
            self._seed = int(np.random.SeedSequence([self._qrt_base, self._qrt_calls]).generate_state(1)[0])
        return original(self, pubs, shots=shots)

    SamplerV2.run = run
    try:
        yield
    finally:
        SamplerV2.run = original


class QrtRunner:
    """qrt_runner's Estimator on ``LocalBackend`` (the simulator executor ``qrt-run`` uses)."""

    def __init__(self, shots: int, overrides: tuple[str, ...] = ()):
        from qrt_runner.execution.backend import LocalBackend

        self._create = LocalBackend.create
        self.backends: dict = {}
        self.mitigations: dict = {}
        self.shots = shots
        self.overrides = overrides  # extra mitigation.* overrides (variants of level 2)
        self.last_result = None

    def _mitigation(self, technique: str):
        from qrt_runner.config.compose import compose_spec
        from qrt_runner.mitigation.options import finalize

        if technique not in self.mitigations:
            overrides = [f"mitigation.resilience_level={LEVELS[technique]}"]
            if technique != "level0":
                overrides += list(self.overrides)
            self.mitigations[technique] = finalize(compose_spec(overrides).mitigation)
        return self.mitigations[technique]

    def run(self, device: str, isa, observables, technique: str, seed: int):
        """(evs, stds, wall seconds, per-noise-factor evs or None)."""
        from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

        if device not in self.backends:
            self.backends[device] = self._create(device, seed_simulator=seed)  # Aer on every core, as IBM's
        backend = self.backends[device]
        backend.seed_simulator, backend.jobs_submitted = seed, 0  # this job gets Aer seed `seed`
        options = EstimatorOptions(default_shots=self.shots, mitigation=self._mitigation(technique))
        gc.collect()
        start = time.perf_counter()
        self.last_result = Estimator(backend, options=options).run([(isa, observables)]).result()[0]
        wall = time.perf_counter() - start
        data = self.last_result.data
        record = self.last_result.metadata.get("mitigation", {})
        factors = record.get("evs_noise_factors")
        if factors is not None:  # (observables, noise factors, value and standard error)
            factors = np.stack([np.asarray(factors)[0], np.asarray(record["stds_noise_factors"])[0]], axis=-1)
        return np.asarray(data.evs), np.asarray(data.stds), wall, factors

    def breakdown(self) -> dict[str, float]:
        """Where the last job's time went, from its record (build, simulate, combine seconds)."""
        record = self.last_result.metadata.get("mitigation", {}) if self.last_result is not None else {}
        return {key: float(np.sum(record.get(key, 0.0))) for key in ("build_s", "simulate_s", "combine_s")}


class IbmRunner:
    """IBM's client-side Estimator in local mode; ``cache`` (a JSON file) keeps its results per
    case, technique, shots and seed (with the wall time and the load at the time). ``seeding``
    ``distinct`` gives each of its Aer calls (one per noise factor, one for TREX) its own seed
    (:func:`distinct_aer_seeds`), as separate executions on hardware are; as shipped (``same``)
    every call samples with the same seed, so its noise factors' errors are correlated."""

    def __init__(self, shots: int, cache: str | None = None, seeding: str = "same"):
        self.seeding = seeding
        from qiskit_ibm_runtime.executor_estimator import Estimator

        self.estimator = Estimator
        self.shots = shots
        self.cache_path = Path(cache) if cache else None
        self.cache = json.loads(self.cache_path.read_text()) if self.cache_path and self.cache_path.is_file() else {}
        self.cached_runs = 0
        self.last_cached = False  # whether the last result came from the cache (its wall was timed then)

    def run(self, device: str, isa, observables, technique: str, seed: int):
        """(evs, stds, wall seconds, per-noise-factor evs or None)."""
        key = f"{device}|{_content(isa)}|{[op.to_list() for op in observables]}|{technique}|{self.shots}|{seed}"
        if self.seeding != "same":
            key += f"|{self.seeding}"
        self.last_cached = key in self.cache
        if self.last_cached:
            self.cached_runs += 1
            hit = self.cache[key]
            factors = hit.get("factors")
            return np.asarray(hit["evs"]), np.asarray(hit["stds"]), hit["wall"], factors and np.asarray(factors)
        result = self._run(device, isa, observables, technique, seed)
        if self.cache_path is not None:
            self.cache[key] = {
                "evs": result[0].tolist(),
                "stds": result[1].tolist(),
                "wall": result[2],
                "factors": None if result[3] is None else result[3].tolist(),
            }
            self.cache_path.write_text(json.dumps(self.cache))
        return result

    def _run(self, device, isa, observables, technique, seed):
        from qrt_runner.execution.fake_backends import fake_backend

        options = {
            "resilience_level": LEVELS[technique],
            "default_shots": self.shots,
            "simulator": {"seed_simulator": seed},
        }
        mode = fake_backend(device)
        gc.collect()
        start = time.perf_counter()
        with warnings.catch_warnings(), distinct_aer_seeds() if self.seeding == "distinct" else nullcontext():
            warnings.simplefilter("ignore")
            data = self.estimator(mode=mode, options=options).run([(isa, observables)]).result()[0].data
        wall = time.perf_counter() - start
        factors = None
        if "evs_noise_factors" in data:  # (observables, noise factors, value and standard error)
            factors = np.stack([np.asarray(data.evs_noise_factors), np.asarray(data.stds_noise_factors)], axis=-1)
        return np.asarray(data.evs), np.asarray(data.stds), wall, factors

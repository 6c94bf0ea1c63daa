"""qrt_runner's primitives, as the suite runs them: native (``qrt_runner.primitives``) or the IBM
drop-in (``qrt_runner.runtime``), on the ideal simulator or a fake device, always with one Aer
thread (the drop-in gets its ``LocalBackend`` as its mode, which it accepts as is)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qiskit import QuantumCircuit
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.transpiler import generate_preset_pass_manager

from qrt_runner.config import mitigation_schema as ms
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.options import finalize
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.primitives.sampler import Sampler, SamplerOptions
from qrt_runner.runtime import EstimatorV2, SamplerV2

DEVICE = "fake_manila"


def backend(name: str, seed: int) -> LocalBackend:
    return LocalBackend.create(name, threads=1, seed_simulator=seed, seed_transpiler=seed % 7)


@dataclass(frozen=True)
class EstimatorRun:
    """How one estimator job is run: ``api`` native or dropin; ``device`` aer or a fake device;
    ``precision`` (0: exact) or ``shots`` (default_shots); ``level`` the resilience level."""

    api: str
    device: str
    precision: float | None = None
    shots: int | None = None
    level: int = 0

    def shots_per_basis(self) -> int:
        import math

        if self.shots:
            return self.shots
        return math.ceil(1 / self.precision**2) if self.precision else 0

    def scaled(self) -> EstimatorRun:
        """The same with 4x the shots (a confirmation run)."""
        if self.shots:
            return EstimatorRun(self.api, self.device, self.precision, self.shots * 4, self.level)
        assert self.precision
        return EstimatorRun(self.api, self.device, self.precision / 2, None, self.level)

    def estimator(self, seed: int):
        local = backend(self.device, seed)
        if self.api == "native":
            mitigation = finalize(ms.MitigationConfig(self.level)) if self.level else None
            options = EstimatorOptions(mitigation=mitigation, default_shots=self.shots)
            if self.precision is not None:
                options.default_precision = self.precision
            return Estimator(local, options=options)
        options: dict[str, Any] = {"resilience_level": self.level, "simulator": {"seed_simulator": seed}}
        if self.precision:  # IBM's options refuse default_precision=0: exact goes through run(precision=0)
            options["default_precision"] = self.precision
        if self.shots is not None:
            options["default_shots"] = self.shots
        return EstimatorV2(mode=local, options=options)

    def run(self, pubs: list, seed: int):
        precision = 0.0 if self.precision == 0 and self.api == "dropin" else None
        return self.estimator(seed).run(pubs, precision=precision).result()


@dataclass(frozen=True)
class SamplerRun:
    """How one sampler job is run; ``twirling`` the drop-in's twirling options (or None)."""

    api: str
    device: str
    shots: int
    twirling: tuple[tuple[str, Any], ...] | None = None

    def sampler(self, seed: int):
        local = backend(self.device, seed)
        if self.api == "native":
            return Sampler(local, options=SamplerOptions(default_shots=self.shots))
        options: dict[str, Any] = {"default_shots": self.shots, "simulator": {"seed_simulator": seed}}
        if self.twirling:
            options["twirling"] = dict(self.twirling)
        return SamplerV2(mode=local, options=options)

    def run(self, pubs: list, seed: int, shots: int | None = None):
        return self.sampler(seed).run(pubs, shots=shots).result()


@lru_cache(maxsize=2)
def _pass_manager(device: str, seed: int):
    from qrt_runner.execution.fake_backends import fake_backend

    return generate_preset_pass_manager(optimization_level=1, backend=fake_backend(device), seed_transpiler=seed)


def isa(circuit: QuantumCircuit, device: str = DEVICE, seed: int = 0) -> QuantumCircuit:
    """The ISA circuit a qiskit-ibm-runtime script would pass (preset pass manager, level 1)."""
    return _pass_manager(device, seed).run(circuit)


def isa_observables(observables: Any, isa_circuit: QuantumCircuit) -> ObservablesArray:
    """Observables laid out onto the ISA circuit's physical qubits, as scripts do with
    ``apply_layout``."""
    return ObservablesArray.coerce(observables).apply_layout(isa_circuit.layout)

"""The contract every mitigation or suppression technique keeps: build circuits, then combine.

As in mitiq (``construct_circuits`` -> executor -> ``combine_results``), a primitive composes the
techniques that the effective options enable (:mod:`qrt_runner.mitigation.techniques`) into a
pipeline and asks each, in pipeline order:

1. :meth:`Technique.signature`: its part of the cache key of the circuits it helps build.
2. :meth:`Technique.transform`: the build step. It gets the circuit templates (one per noise
   factor: the ISA circuit before any technique ran) and returns new ones (DD inserts delays,
   gate twirling makes a parametrised template, ZNE makes one template per noise factor, PEC and
   PEA add Pauli channels). Whatever combining needs later goes into ``context.notes`` (the
   primitive caches the notes with the circuits, so a cache hit skips this step).
3. :meth:`Technique.draw`: its random draws (measurement flips, calibration flips), in pipeline
   order from one generator, so the draws and therefore the results do not change when the code
   is rearranged.
4. :meth:`Technique.columns`: the parameter columns (one value per randomisation) of its slots
   in a circuit.
5. Combining: :meth:`Technique.shot_weight` (PEC's gamma), :meth:`Technique.term_scale` (TREX's
   calibration, with its error in :meth:`Technique.term_scale_covariance`), :meth:`Technique.reduce` (ZNE's extrapolation across noise factors), then
   :meth:`Technique.diagnostics` and :meth:`Technique.multipliers` for the PUB's metadata.

Techniques never see a backend, session or tracker: a compact :class:`DeviceInfo` stands for the
device. Every hook has a neutral default, so a technique only implements what it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp

from qrt_runner.errors import ConfigError
from qrt_runner.execution.device_info import DeviceInfo
from qrt_runner.mitigation.zne import TermData

#: Note of the learned layer noise (a ``LayerNoisePlan``), left by PEC or PEA when they inject channels.
LAYER_NOISE = "layer_noise"
#: Role of the circuits that no technique adds (the PUB's own circuits at noise factor 1).
CIRCUITS = "circuits"


@dataclass
class BuildContext:
    """What the build step of one PUB shares: the device, the ISA circuit's width, how many
    measurement bases it has, and the notes techniques leave for combining (cached together with
    the circuits)."""

    device: DeviceInfo
    num_qubits: int
    num_bases: int = 1
    notes: dict[str, Any] = field(default_factory=dict)


class Technique:
    """A mitigation or suppression technique; subclasses override the hooks they need.

    Attributes:
        name: the technique's name, also the role of the circuits it adds (``simulate_s_by_technique``).
        randomizes: whether its circuits are bound once per randomisation (twirls).
        prefix_safe: whether the circuit before the measurements stays one circuit for every
            randomisation (so that they may share its simulation).
        prefix_per_row: whether, where it is not, its randomisations differ there by parameter
            values alone (so that the measurement bases of one randomisation may share it).
        twirls_measurement: whether the measurements the primitive adds get flip slots.
        refuses: what of a dynamic circuit its model does not cover, so that it refuses the
            circuit (:func:`check_dynamic_circuit`): ``control_flow`` (branches), ``dynamic``
            (branches, mid-circuit measurements and resets) or None (it handles all).
        option: the option that turns it on, as IBM names it, and ``option_value`` its value
            (for the refusal).
        refusal: why it refuses.
    """

    name = "technique"
    randomizes = False
    prefix_safe = True
    prefix_per_row = False
    twirls_measurement = False
    refuses: str | None = None
    option = ""
    option_value: Any = True
    refusal = ""

    def signature(self, device: DeviceInfo) -> str:
        """Its part of the cache key: every option (and input file) its circuits depend on."""
        return self.name

    def factors(self) -> tuple[float, ...] | None:
        """The noise factors of the templates it makes (ZNE), None when it makes none."""
        return None

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        """Build step: the templates after this technique (default: unchanged)."""
        return templates

    def template_roles(self, roles: list[str]) -> list[str]:
        """The role of each template's circuits (default: unchanged)."""
        return roles

    def shots(self, shots: int, notes: dict[str, Any]) -> int:
        """The shots a PUB of ``shots`` needs in all with this technique (PEC: more)."""
        return shots

    def factor_shot_weights(self) -> tuple[float, ...] | None:
        """Each noise factor's share of the shots relative to an equal split, or None (equal)."""
        return None

    def factor_randomization_weights(self) -> tuple[float, ...] | None:
        """Each noise factor's share of the twirl's randomisations (the factor's shots kept), or
        None (every factor all of them)."""
        return None

    def size_calibration(self, randomizations: int, shots_per_randomization: int) -> None:
        """Told the randomisations and shots per randomisation the twirl gives the PUB's shots
        (before any sampling overhead), before its draws: a calibration sized "auto" takes them."""

    def draw(self, rng: np.random.Generator, randomizations: int, circuit: QuantumCircuit) -> None:
        """Its random draws for one PUB (called in pipeline order with the PUB's generator);
        ``circuit``: the ISA circuit (Estimator) or the built circuit (Sampler)."""

    def measurement_flips(self) -> np.ndarray | None:
        """Its drawn flips of the measured qubits (randomisations x qubits), if it twirls them."""
        return None

    def columns(self, circuit: QuantumCircuit, randomizations: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Parameter columns (one value per randomisation) of its slots in ``circuit``."""
        return {}

    def calibration_circuits(self, circuits: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        """Build step, after the primitive's measurement ``circuits``: circuits of its own that
        the job runs too (TREX's calibration), each in a simulator call of its own."""
        return []

    def calibration_rows(self, circuit: QuantumCircuit) -> tuple[np.ndarray | None, int]:
        """Parameter rows (or None) and shots per row of one of its calibration circuits."""
        return None, 0

    def calibration_shots(self) -> int:
        """The shots its calibration circuits take in all."""
        return 0

    def calibrate(self, circuits: list[QuantumCircuit], rows: list[Any], labels: list[str]) -> None:
        """Combine step, first: learn from its calibration circuits' rows (per circuit)."""

    def unflip(self, rows: list[np.ndarray]) -> list[np.ndarray]:
        """Sampler combine step: the packed shots of each randomisation of one parameter set,
        with its randomisation undone (default: unchanged)."""
        return rows

    def shot_weight(self, notes: dict[str, Any]) -> float:
        """The factor every shot's value is multiplied by (PEC's gamma; default 1)."""
        return 1.0

    def term_scale(self, group: list[str]) -> np.ndarray | None:
        """Per Pauli term of a measured group, what its measured values are divided by (TREX)."""
        return None

    def term_scale_covariance(self, labels: list[str]) -> np.ndarray | None:
        """The relative covariance ``Cov(c_l, c_m) / (c_l c_m)`` of the scales :meth:`term_scale`
        divides the Pauli terms ``labels`` by (the error of a calibration), or None."""
        return None

    def reduce(
        self, data: TermData, terms: PubTerms, notes: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, dict] | None:
        """Evs and stds (sets x observables) from the term data of every noise factor, and its
        diagnostics; None leaves it to the default (the first noise factor's values)."""
        return None

    def diagnostics(self, notes: dict[str, Any]) -> dict[str, Any]:
        """What it adds to the PUB's mitigation metadata."""
        return {}

    def multipliers(self, notes: dict[str, Any]) -> dict[str, Any]:
        """What it adds to the PUB's shot multipliers (``Planned.multipliers``)."""
        return {}


@dataclass(frozen=True)
class PubTerms:
    """The observables of a PUB as Pauli terms: ``coeffs`` (observables x terms), the identity
    part and the bound ``sum |coeff|`` of each observable, and the term labels."""

    coeffs: np.ndarray
    identity: np.ndarray
    bounds: np.ndarray
    labels: list[str]


def check_dynamic_circuit(techniques: list[Technique], circuit: QuantumCircuit) -> None:
    """Refuse (:class:`~qrt_runner.errors.ConfigError`) a technique whose model does not cover
    the control flow, mid-circuit measurements or resets of ``circuit``."""
    branch = next((i.operation.name for i in circuit.data if isinstance(i.operation, ControlFlowOp)), None)
    collapse = next((i.operation.name for i in circuit.data if i.operation.name in ("measure", "reset")), None)
    for technique in techniques:
        found = branch if technique.refuses == "control_flow" else (branch or collapse) if technique.refuses else None
        if found is not None:
            raise ConfigError(
                technique.option,
                technique.option_value,
                f"cannot be used on a circuit with {found}: {technique.refusal}",
                "turn it off for this circuit (or remove the instruction)",
            )

"""Dynamical decoupling as a technique: delays and pulse sequences on idle qubits of every template."""

from __future__ import annotations

from qiskit import QuantumCircuit

from qrt_runner.mitigation.decoupling import add_dynamical_decoupling
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import BuildContext, DeviceInfo, Technique


class DynamicalDecoupling(Technique):
    """IBM's ``dynamical_decoupling`` options (fake devices only: it needs instruction durations)."""

    name = "dynamical_decoupling"
    refuses = "control_flow"
    option = "dynamical_decoupling.enable"
    refusal = "the idle windows inside and around its branches have no known duration"

    def __init__(self, sequence_type: str, scheduling_method: str, extra_slack_distribution: str, skip_reset: bool):
        self.sequence_type = sequence_type
        self.scheduling_method = scheduling_method
        self.extra_slack_distribution = extra_slack_distribution
        self.skip_reset_qubits = skip_reset

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> DynamicalDecoupling | None:
        dd = mit.dynamical_decoupling
        if not dd.enable:
            return None
        return cls(dd.sequence_type, dd.scheduling_method, dd.extra_slack_distribution, dd.skip_reset_qubits)

    def signature(self, device: DeviceInfo) -> str:
        return f"dd{self.sequence_type}{self.scheduling_method}{self.extra_slack_distribution}{self.skip_reset_qubits}"

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        schedule_target = context.device.compact_target
        if schedule_target is None:
            raise ValueError(
                "dynamical decoupling needs a device's instruction durations; the ideal simulator has none"
            )
        return [
            add_dynamical_decoupling(
                template,
                schedule_target(),
                self.sequence_type,
                self.scheduling_method,
                self.extra_slack_distribution,
                self.skip_reset_qubits,
            )
            for template in templates
        ]

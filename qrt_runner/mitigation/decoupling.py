"""Dynamical decoupling: pi-pulse sequences in the idle windows of an ISA circuit.

The circuit is scheduled with the device's own instruction durations (ALAP or ASAP) and
Qiskit's ``PadDynamicalDecoupling`` fills each idle window with the sequence; the delays that
remain carry the device's T1/T2 relaxation in the simulation.

Sequences use IBM's names (``DynamicalDecouplingOptions.sequence_type``): ``XX`` (+X +X),
``XpXm`` (+X -X) and ``XY4`` (+X +Y -X -Y), pulses evenly spaced (tau/2, tau, ..., tau/2). A pi
pulse about the axis at angle ``phi`` in the xy-plane is the device's ``x`` between frame
changes, ``rz(-phi) x rz(phi)``; ``rz`` is virtual (zero duration), so every pulse lasts one
``x`` and the frame changes sit at the pulse with no delay in between.
"""

from __future__ import annotations

import math

from qiskit import QuantumCircuit
from qiskit.circuit import Gate
from qiskit.circuit.library import RZGate, XGate
from qiskit.transpiler import PassManager, Target
from qiskit.transpiler.passes import ALAPScheduleAnalysis, ASAPScheduleAnalysis, PadDynamicalDecoupling

# Axis angle (in the xy-plane, from +x) of each pi pulse of a sequence.
SEQUENCES: dict[str, tuple[float, ...]] = {
    "XX": (0.0, 0.0),
    "XpXm": (0.0, math.pi),
    "XY4": (0.0, math.pi / 2, math.pi, 3 * math.pi / 2),
}


def _pi_pulse(phi: float) -> list[Gate]:
    """A pi rotation about ``cos(phi) X + sin(phi) Y`` as device gates, in time order."""
    if phi == 0.0:
        return [XGate()]
    return [RZGate(-phi), XGate(), RZGate(phi)]


def dd_sequence(sequence_type: str) -> tuple[list[Gate], list[float]]:
    """Gates (time order) and the ``spacing`` fractions for ``PadDynamicalDecoupling``.

    The idle window is split tau/2, tau, ..., tau/2 around the pulses; the gates within one pulse
    (frame change, x, frame change) follow each other with no delay.
    """
    phases = SEQUENCES[sequence_type]
    tau = 1.0 / len(phases)
    gates: list[Gate] = []
    spacing: list[float] = []
    for index, phi in enumerate(phases):
        pulse = _pi_pulse(phi)
        spacing += [tau / 2 if index == 0 else tau] + [0.0] * (len(pulse) - 1)
        gates += pulse
    spacing.append(1.0 - sum(spacing))  # tau/2, exact: tau is a power of two
    return gates, spacing


def add_dynamical_decoupling(
    circuit: QuantumCircuit,
    target: Target,
    sequence_type: str,
    scheduling_method: str,
    extra_slack_distribution: str,
    skip_reset_qubits: bool,
) -> QuantumCircuit:
    """``circuit`` (ISA, on ``target``'s qubits) with the decoupling sequence in its idle windows."""
    schedule = (
        ALAPScheduleAnalysis(target=target) if scheduling_method == "alap" else ASAPScheduleAnalysis(target=target)
    )
    gates, spacing = dd_sequence(sequence_type)
    pad = PadDynamicalDecoupling(
        target=target,
        dd_sequence=gates,
        spacing=spacing,
        skip_reset_qubits=skip_reset_qubits,
        extra_slack_distribution=extra_slack_distribution,
    )
    out = PassManager([schedule, pad]).run(circuit)
    out.metadata = dict(circuit.metadata or {})
    return out

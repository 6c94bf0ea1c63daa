"""Dynamical decoupling: X-pulse sequences in the idle windows of an ISA circuit.

The circuit is scheduled with the device's own instruction durations (ALAP or ASAP) and
Qiskit's ``PadDynamicalDecoupling`` fills each idle window with the sequence; the delays that
remain carry the device's T1/T2 relaxation in the simulation.
"""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit.circuit.library import XGate
from qiskit.transpiler import PassManager, Target
from qiskit.transpiler.passes import ALAPScheduleAnalysis, ASAPScheduleAnalysis, PadDynamicalDecoupling

SEQUENCES = {"XX": lambda: [XGate(), XGate()]}


def add_dynamical_decoupling(circuit: QuantumCircuit, target: Target, sequence_type: str,
                             scheduling_method: str, extra_slack_distribution: str,
                             skip_reset_qubits: bool) -> QuantumCircuit:
    """``circuit`` (ISA, on ``target``'s qubits) with the decoupling sequence in its idle windows."""
    schedule = ALAPScheduleAnalysis(target=target) if scheduling_method == "alap" else ASAPScheduleAnalysis(target=target)
    pad = PadDynamicalDecoupling(
        target=target, dd_sequence=SEQUENCES[sequence_type](), skip_reset_qubits=skip_reset_qubits,
        extra_slack_distribution=extra_slack_distribution,
    )
    out = PassManager([schedule, pad]).run(circuit)
    out.metadata = dict(circuit.metadata or {})
    return out

"""Which Aer method simulates a transpiled circuit: the cheapest exact one that fits, and why.

Decided once per ISA circuit, after transpilation and before anything runs, from the circuit
(its width, whether it is Clifford, its two-qubit gates), the noise it runs under
(``none``, the device's full model, or its ``pauli`` form) and this machine's memory:

- a Clifford circuit under Pauli noise (or none) wider than a statevector or density matrix
  cheaply holds runs on the **stabilizer** method, polynomial in the width;
- otherwise, where a dense state fits, Aer's and the simulator's automatic choice runs as it
  always has: a small noisy circuit as a **density matrix**, an ideal Clifford one on the
  stabilizer method, the rest as a **statevector** (noisy ones as one trajectory per shot);
- an ideal circuit too wide for a statevector runs as a **matrix product state** where the bond
  dimension its two-qubit gates can build fits in memory (the MPS is then exact, not truncated);
- everything else is refused with one line naming the limit and the alternatives, before any
  simulation: never an Aer memory error after seconds of work.

Time estimates are rough (per-gate costs measured with Aer 0.18 on one core) and only reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qiskit import QuantumCircuit

from qrt_runner.config.allowed import METHODS, NOISE_FORMS
from qrt_runner.errors import CapacityError
from qrt_runner.execution.simulation.frames import available as frames_available
from qrt_runner.memory import memory_bytes, size_text

__all__ = ["METHODS", "NOISE_FORMS", "MethodChoice", "choose_method", "refuse_early"]


_AMPLITUDE = 16  # bytes of a complex double
_MEMORY_SHARE = 0.8  # of physical memory one simulation may take
_DENSITY_MAX_QUBITS = 10  # the simulator's density-matrix rule (simulation.aer_simulator.resolve_method)
_MPS_MAX_LOG2_BOND = 24  # beyond this the bound says nothing useful (and overflows nothing)
# Rough single-core costs (Aer 0.18): seconds per gate and amplitude (dense), per gate, qubit
# and shot (stabilizer), per gate and bond dimension cubed (MPS).
_DENSE_S = 2e-9
_STABILIZER_S = 6e-9
_FRAME_CONVERSION_S = 2e-5  # per instruction, writing the Stim circuit (simulation.frames)
_FRAME_S = 2e-9  # per instruction and shot, Stim's frame sampling
_MPS_S = 2e-8


@dataclass(frozen=True)
class MethodChoice:
    """What runs a circuit.

    Attributes:
        method: what the simulator is told: a method, or ``automatic`` where the simulator's
            own per-call choice (density matrix, stabilizer or statevector) is the right one.
        runs: the method that runs (what ``automatic`` resolves to for this circuit).
        reason: why, in a few words.
        memory_bytes: the simulated state's estimated size.
        seconds: a rough estimate of the simulation time of one circuit at the shots given.
    """

    method: str
    runs: str
    reason: str
    memory_bytes: int
    seconds: float

    def record(self, requested: str, noise: str) -> dict:
        """The choice as results.json and MLflow keep it."""
        return {
            "method": self.runs,
            "requested": requested,
            "noise": noise,
            "reason": self.reason,
            "memory": size_text(self.memory_bytes),
            "estimated_seconds": float(f"{self.seconds:.3g}"),
        }


def choose_method(requested: str, circuit: QuantumCircuit, noise: str, shots: int) -> MethodChoice:
    """The method for ``circuit`` (an ISA circuit on its compact qubits).

    Args:
        requested: ``backend.method`` (``automatic`` or one of Aer's methods).
        noise: ``none`` (ideal), ``device`` (the device's full model) or ``pauli`` (its Pauli form).
        shots: shots per circuit (0: exact expectation values).

    Raises:
        CapacityError: no method can simulate it here (names the limit and the alternatives).
    """
    width = circuit.num_qubits
    facts = _Facts.of(circuit, noise, shots)
    budget = int(_MEMORY_SHARE * memory_bytes())
    if requested != "automatic":
        return _requested(requested, facts, budget)
    statevector = _AMPLITUDE * 2**width
    if facts.clifford and facts.pauli_noise and (width > _DENSITY_MAX_QUBITS or statevector > budget):
        return _stabilizer(facts, "stabilizer", "Clifford circuit")
    if statevector <= budget:
        return _automatic(facts)
    if not facts.noisy and (mps := _mps_bytes(circuit)) <= budget:
        return MethodChoice(
            "matrix_product_state",
            "matrix_product_state",
            f"the statevector ({_size(statevector)}) does not fit; the two-qubit gates bound the bond dimension",
            mps,
            _mps_seconds(facts, mps),
        )
    raise _refusal(facts, statevector, budget)


@dataclass(frozen=True)
class _Facts:
    width: int
    gates: int
    clifford: bool
    noise: str
    shots: int

    @property
    def noisy(self) -> bool:
        return self.noise != "none"

    @property
    def pauli_noise(self) -> bool:
        return self.noise in ("none", "pauli")

    @staticmethod
    def of(circuit: QuantumCircuit, noise: str, shots: int) -> _Facts:
        from qrt_runner.execution.simulation.clifford import is_clifford

        gates = sum(1 for inst in circuit.data if inst.operation.name not in ("barrier", "delay"))
        return _Facts(circuit.num_qubits, gates, is_clifford(circuit), noise, shots)

    @property
    def trajectories(self) -> int:
        """Runs of the circuit a noisy sampling method needs (one per shot), else 1."""
        return max(self.shots, 1) if self.noisy else 1


def _automatic(facts: _Facts) -> MethodChoice:
    """What the simulator's automatic choice runs where a statevector fits."""
    from qrt_runner.execution.simulation.aer_simulator import resolve_method

    width = facts.width
    if facts.noisy and facts.shots and resolve_method("automatic", True, width, facts.shots) == "density_matrix":
        size = _AMPLITUDE * 4**width
        return MethodChoice(
            "automatic", "density_matrix", "small noisy circuit", size, facts.gates * 4**width * _DENSE_S
        )
    if facts.noisy and not facts.shots:  # noisy exact values: the density matrix too
        size = _AMPLITUDE * 4**width
        return MethodChoice(
            "automatic", "density_matrix", "exact values under noise", size, facts.gates * 4**width * _DENSE_S
        )
    if facts.clifford and facts.pauli_noise:
        return _stabilizer(facts, "automatic", "Clifford circuit")
    size = _AMPLITUDE * 2**width
    why = "noisy circuit, one trajectory per shot" if facts.noisy else "the statevector fits"
    return MethodChoice("automatic", "statevector", why, size, facts.trajectories * facts.gates * 2**width * _DENSE_S)


def _stabilizer(facts: _Facts, told: str, why: str) -> MethodChoice:
    size = 2 * facts.width * (2 * facts.width + 1) // 8 + 64  # the tableau, bits
    noise = {"none": "", "pauli": " under Pauli noise"}.get(facts.noise, "")
    shots = max(facts.shots, 1)
    if facts.noise == "pauli" and frames_available():  # one conversion, then Pauli frames in bits
        seconds = facts.gates * _FRAME_CONVERSION_S + shots * facts.gates * _FRAME_S
    elif facts.noise == "pauli":  # Aer: the whole circuit once per shot
        seconds = shots * facts.gates * facts.width * _STABILIZER_S
    else:  # one simulation, then the measurements sampled
        seconds = facts.gates * facts.width * _STABILIZER_S + shots * facts.width * _STABILIZER_S
    return MethodChoice(told, "stabilizer", f"{why}{noise}", size, seconds)


def _requested(requested: str, facts: _Facts, budget: int) -> MethodChoice:
    width = facts.width
    why = f"requested (backend.method={requested})"
    if requested == "stabilizer":
        if not facts.clifford:
            raise CapacityError(
                "backend.method", requested, "cannot simulate non-Clifford gates", "use backend.method=automatic"
            )
        if not facts.pauli_noise:
            raise CapacityError(
                "backend.method",
                requested,
                "the device's noise (thermal relaxation) is not a Pauli channel",
                "use backend.noise=pauli (its Pauli-twirled form) or backend.method=automatic",
            )
        return _stabilizer(facts, requested, why)
    if requested in ("statevector", "density_matrix"):
        matrix = requested == "density_matrix"
        size = _AMPLITUDE * (4**width if matrix else 2**width)
        if size > budget:
            raise _refusal(facts, size, budget, requested)
        runs = 1 if matrix else facts.trajectories
        return MethodChoice(
            requested, requested, why, size, runs * facts.gates * (4**width if matrix else 2**width) * _DENSE_S
        )
    # matrix_product_state: the user asked for it; its bond dimension is checked, not its time
    return MethodChoice(requested, requested, why, 0, 0.0)


def refuse_early(requested: str, circuit: QuantumCircuit, noise: str) -> None:
    """Refuse, from the logical circuit and before transpiling it, what no transpilation can
    make fit: its active qubits are at most as many as its ISA form's.

    Raises:
        CapacityError: as :func:`choose_method` would after transpiling.
    """
    from qrt_runner.execution.simulation.clifford import is_clifford

    active = {
        circuit.find_bit(q).index
        for inst in circuit.data
        if inst.operation.name not in ("barrier", "delay")
        for q in inst.qubits
    }
    width = len(active)
    budget = int(_MEMORY_SHARE * memory_bytes())
    dense = _AMPLITUDE * (4**width if requested == "density_matrix" else 2**width)
    if requested == "matrix_product_state" or dense <= budget and requested != "stabilizer":
        return
    clifford = is_clifford(circuit)
    if requested == "automatic" and noise != "none" and (noise == "device" or not clifford):
        pass  # noisy and too wide for a statevector: refused below
    elif requested not in ("statevector", "density_matrix", "stabilizer"):
        return  # ideal and automatic: the transpiled circuit decides (stabilizer or MPS)
    gates = sum(1 for inst in circuit.data if inst.operation.name not in ("barrier", "delay"))
    facts = _Facts(width, gates, clifford, noise, 0)
    if requested == "stabilizer":
        _requested(requested, facts, budget)
        return
    raise _refusal(facts, dense, budget, requested)


def _mps_bytes(circuit: QuantumCircuit) -> int:
    """An upper bound on a matrix product state's size after ``circuit``, in its qubit order.

    The bond across the cut after qubit k is at most 2 to the number of two-qubit gates that
    straddle it (4 for a swap or a general gate) and at most 2^min(k + 1, n - k - 1)."""
    width = circuit.num_qubits
    if width < 2:
        return _AMPLITUDE * 2
    log2_bond = [0] * (width - 1)
    for inst in circuit.data:
        if len(inst.qubits) != 2 or inst.operation.name in ("barrier",):
            continue
        a, b = sorted(circuit.find_bit(q).index for q in inst.qubits)
        rank = 2 if inst.operation.name in ("swap", "unitary", "iswap", "dcx") else 1
        for cut in range(a, b):
            log2_bond[cut] += rank
    bonds = [min(bits, k + 1, width - k - 1, _MPS_MAX_LOG2_BOND) for k, bits in enumerate(log2_bond)]
    chi = [1, *(2**b for b in bonds), 1]
    return sum(_AMPLITUDE * 2 * chi[k] * chi[k + 1] for k in range(width))


def _mps_seconds(facts: _Facts, size: int) -> float:
    chi = math.sqrt(size / (_AMPLITUDE * 2 * max(facts.width, 1)))
    return facts.trajectories * facts.gates * chi**3 * _MPS_S


def _refusal(facts: _Facts, needed: int, budget: int, method: str = "automatic") -> CapacityError:
    width = facts.width
    machine = size_text(memory_bytes())
    state = "density matrix" if method == "density_matrix" else "statevector"
    if method != "automatic":
        why = f"backend.method={method}"
        if facts.clifford and facts.pauli_noise:
            fix = "use fewer qubits or backend.method=stabilizer (the circuit is Clifford)"
        elif facts.noisy:
            fix = "use fewer qubits"
        else:
            fix = "use fewer qubits or backend.method=matrix_product_state"
    elif facts.clifford and not facts.pauli_noise:
        why = "the device's noise (thermal relaxation) is not a Pauli channel, so the stabilizer method cannot run it"
        fix = "use backend.noise=pauli (the stabilizer method then runs it at any width) or fewer qubits"
    elif facts.noisy:
        why = "the circuit is not Clifford, so the stabilizer method cannot run it"
        fix = "use fewer qubits, Clifford angles, or backend.noise=none with backend.method=matrix_product_state"
    else:
        why = "the circuit is not Clifford and its two-qubit gates allow a matrix product state too large as well"
        fix = "use fewer qubits or Clifford angles (the stabilizer method runs Clifford circuits at any width)"
    return CapacityError(
        "circuit.num_qubits",
        width,
        f"a {width}-qubit {state} needs {_size(needed)}, more than this machine's {machine} ({why})",
        fix,
    )


def _size(num_bytes: int) -> str:
    """A size, or a power of two where a float of it would overflow."""
    if num_bytes < 2**100:
        return size_text(num_bytes)
    exponent = num_bytes.bit_length() - 1
    return f"2^{exponent} bytes" if num_bytes == 2**exponent else f"over 2^{exponent} bytes"

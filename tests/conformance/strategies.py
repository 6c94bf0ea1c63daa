"""Hypothesis strategies for random V2 PUBs.

A circuit is drawn as a :class:`CircuitSpec` (plain data: qubits, classical registers, operations)
so that a failing example prints as Python code (:meth:`CircuitSpec.code`) ready to be pasted into
``tests/test_conformance_regressions.py``. Operations: ``h x sx`` (fixed), ``rz ry`` (an angle that
is a constant or ``scale * p<k> + offset``), ``cx cz swap``; in dynamic circuits also ``reset``,
``measure`` into a bit of one of several classical registers, and ``if_else`` on a bit measured
before (or on a whole register's value). Parameter values and observables get shapes that
broadcast against each other, as V2 PUBs allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import ControlFlowOp, Parameter
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.quantum_info import SparsePauliOp

GATES_1Q = ("h", "x", "sx")
ROTATIONS = ("rz", "ry")
GATES_2Q = ("cx", "cz", "swap")
REGISTER_NAMES = ("c", "m", "flag")
PAULI = "IXYZ"
# Labels lean to I and Z: random states give X and Y expectation values of 0 too often to tell
# right from wrong.
LABEL_LETTERS = "IIZZXY"
PROJECTOR = "01+-rl"
COEFFICIENTS = (1.0, -1.0, 0.5, -0.5, 0.25, 2.0, -1.5, 0.3)
NICE_ANGLES = (0.0, math.pi / 2, math.pi, -math.pi / 2, math.pi / 4, 3 * math.pi / 4)
# Shapes a PUB's results may take; parameter values and observables each broadcast to one of them.
RESULT_SHAPES = ((), (1,), (2,), (3,), (2, 1), (1, 2), (2, 2), (3, 2))


@dataclass(frozen=True)
class Angle:
    """A rotation angle: ``offset`` or ``scale * p<param> + offset``."""

    offset: float
    param: int | None = None
    scale: float = 1.0

    def value(self, params: list[Parameter]) -> Any:
        if self.param is None:
            return self.offset
        return self.scale * params[self.param] + self.offset

    def code(self) -> str:
        if self.param is None:
            return repr(self.offset)
        return f"{self.scale!r} * p[{self.param}] + {self.offset!r}"


@dataclass(frozen=True)
class Op:
    """One operation. ``bit`` is (register, index) for ``measure`` and for an ``if_else`` on a bit;
    an ``if_else`` on a whole register has ``bit=(register, None)``."""

    name: str
    qubits: tuple[int, ...] = ()
    angle: Angle | None = None
    bit: tuple[int, int | None] | None = None
    value: int = 1
    true_body: tuple[Op, ...] = ()
    false_body: tuple[Op, ...] | None = None


@dataclass(frozen=True)
class CircuitSpec:
    """A circuit as plain data; :meth:`build` makes the ``QuantumCircuit``."""

    num_qubits: int
    registers: tuple[tuple[str, int], ...]
    num_params: int
    ops: tuple[Op, ...]
    metadata: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def dynamic(self) -> bool:
        """Whether it measures, resets or branches before its end (not a unitary circuit)."""
        return any(op.name in ("measure", "reset", "if_else") for op in self.ops)

    def build(self) -> QuantumCircuit:
        cregs = [ClassicalRegister(size, name) for name, size in self.registers]
        circuit = QuantumCircuit(QuantumRegister(self.num_qubits, "q"), *cregs)
        params = [Parameter(f"p{k}") for k in range(self.num_params)]
        for op in self.ops:
            _append(circuit, op, params, cregs)
        return circuit

    def code(self) -> str:
        """Python source that builds the same circuit as ``qc``."""
        regs = ", ".join(f'ClassicalRegister({size}, "{name}")' for name, size in self.registers)
        lines = [f'qc = QuantumCircuit(QuantumRegister({self.num_qubits}, "q"){", " + regs if regs else ""})']
        if self.num_params:
            lines.append(f'p = [Parameter(f"p{{k}}") for k in range({self.num_params})]')
        for op in self.ops:
            lines += _code(op, "")
        return "\n".join(lines)


def _bit(circuit: QuantumCircuit, cregs: list[ClassicalRegister], bit: tuple[int, int | None]):
    register, index = bit
    return cregs[register] if index is None else cregs[register][index]


def _append(circuit: QuantumCircuit, op: Op, params: list[Parameter], cregs: list[ClassicalRegister]) -> None:
    if op.name in GATES_1Q or op.name in GATES_2Q:
        getattr(circuit, op.name)(*op.qubits)
    elif op.name in ROTATIONS:
        assert op.angle is not None
        getattr(circuit, op.name)(op.angle.value(params), *op.qubits)
    elif op.name == "reset":
        circuit.reset(op.qubits[0])
    elif op.name == "measure":
        assert op.bit is not None
        circuit.measure(op.qubits[0], _bit(circuit, cregs, op.bit))
    elif op.name == "if_else":
        assert op.bit is not None
        condition = (_bit(circuit, cregs, op.bit), op.value)
        with circuit.if_test(condition) as else_:
            for inner in op.true_body:
                _append(circuit, inner, params, cregs)
        if op.false_body is not None:
            with else_:
                for inner in op.false_body:
                    _append(circuit, inner, params, cregs)
    else:
        raise ValueError(f"unknown operation {op.name}")


def _code(op: Op, indent: str) -> list[str]:
    def bit(spec) -> str:
        register, index = spec
        return f"qc.cregs[{register}]" + ("" if index is None else f"[{index}]")

    if op.name in GATES_1Q or op.name in GATES_2Q:
        return [f"{indent}qc.{op.name}({', '.join(map(str, op.qubits))})"]
    if op.name in ROTATIONS:
        assert op.angle is not None
        return [f"{indent}qc.{op.name}({op.angle.code()}, {op.qubits[0]})"]
    if op.name == "reset":
        return [f"{indent}qc.reset({op.qubits[0]})"]
    if op.name == "measure":
        return [f"{indent}qc.measure({op.qubits[0]}, {bit(op.bit)})"]
    lines = [f"{indent}with qc.if_test(({bit(op.bit)}, {op.value})) as else_:"]
    for inner in op.true_body:
        lines += _code(inner, indent + "    ")
    if op.false_body is not None:
        lines.append(f"{indent}with else_:")
        for inner in op.false_body:
            lines += _code(inner, indent + "    ")
    return lines


# -- circuits ---------------------------------------------------------------------------------


def angles(max_params: int) -> st.SearchStrategy[Angle]:
    constant = st.one_of(
        st.sampled_from(NICE_ANGLES), st.floats(-2 * math.pi, 2 * math.pi).map(lambda x: round(x, 4))
    ).map(Angle)
    if max_params == 0:
        return constant
    parametrised = st.builds(
        Angle,
        offset=st.sampled_from((0.0, 0.5, -1.0)),
        param=st.integers(0, max_params - 1),
        scale=st.sampled_from((1.0, 2.0, -0.5)),
    )
    return st.one_of(parametrised, constant)


@st.composite
def unitary_ops(draw, num_qubits: int, max_params: int) -> Op:
    kinds = ["1q", "rot"] + (["2q", "2q"] if num_qubits > 1 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "1q":
        return Op(draw(st.sampled_from(GATES_1Q)), (draw(st.integers(0, num_qubits - 1)),))
    if kind == "rot":
        return Op(draw(st.sampled_from(ROTATIONS)), (draw(st.integers(0, num_qubits - 1)),), draw(angles(max_params)))
    a, b = draw(st.lists(st.integers(0, num_qubits - 1), min_size=2, max_size=2, unique=True))
    return Op(draw(st.sampled_from(GATES_2Q)), (a, b))


def _renumber_params(ops: list[Op]) -> tuple[tuple[Op, ...], int]:
    """Parameters renumbered 0..k-1 in order of first use (unused indices dropped)."""
    order: dict[int, int] = {}

    def visit(op: Op) -> Op:
        angle = op.angle
        if angle is not None and angle.param is not None:
            angle = Angle(angle.offset, order.setdefault(angle.param, len(order)), angle.scale)
        true_body = tuple(visit(o) for o in op.true_body)
        false_body = None if op.false_body is None else tuple(visit(o) for o in op.false_body)
        return Op(op.name, op.qubits, angle, op.bit, op.value, true_body, false_body)

    renumbered = tuple(visit(op) for op in ops)
    return renumbered, len(order)


@st.composite
def circuits(
    draw,
    *,
    min_qubits: int = 1,
    max_qubits: int = 5,
    max_ops: int = 8,
    max_params: int = 3,
    dynamic: bool | st.SearchStrategy[bool] = False,
    dynamic_ops: tuple[str, ...] = ("measure", "reset", "if_else"),
    registers: bool | None = None,
    final_measure: str = "none",
) -> CircuitSpec:
    """A random circuit.

    Args:
        dynamic: include resets, measurements and ``if_else`` on measured bits (at least one); a
            strategy of booleans draws it.
        dynamic_ops: which of those a dynamic circuit may have.
        registers: give it classical registers (None: whatever ``dynamic``/``final_measure`` need,
            and sometimes idle ones).
        final_measure: ``none``; ``some`` (some qubits measured at the end into random bits);
            ``all`` (every qubit measured at the end); ``measured`` (``some`` or ``all``).
    """
    if not isinstance(dynamic, bool):
        dynamic = draw(dynamic)
    n = draw(st.integers(min_qubits, max_qubits))
    if registers is None:
        registers = dynamic or final_measure != "none" or draw(st.booleans())
    regs: tuple[tuple[str, int], ...] = ()
    if registers:
        count = draw(st.integers(1, len(REGISTER_NAMES)))
        regs = tuple((REGISTER_NAMES[r], draw(st.integers(1, 3))) for r in range(count))
    ops = _body(draw, n, regs, max_ops, max_params, dynamic_ops if dynamic else ())
    if final_measure == "measured":
        final_measure = draw(st.sampled_from(["all", "all", "some"]))
    ops += _final_measurements(draw, n, regs, final_measure)
    renumbered, num_params = _renumber_params(ops)
    return CircuitSpec(n, regs, num_params, renumbered)


def _bits(regs: tuple[tuple[str, int], ...]) -> list[tuple[int, int]]:
    return [(r, i) for r, (_, size) in enumerate(regs) for i in range(size)]


def _body(draw, n: int, regs, max_ops: int, max_params: int, dynamic_ops: tuple[str, ...]) -> list[Op]:
    """The operations before the final measurements; with ``dynamic_ops``, at least one measurement
    or reset, and ``if_else`` conditions that read bits measured before them."""
    ops: list[Op] = []
    measured: list[tuple[int, int]] = []
    kinds = ["unitary", "unitary", *dynamic_ops]
    for _ in range(draw(st.integers(2 if dynamic_ops else 1, max_ops))):
        kind = draw(st.sampled_from(kinds))
        if kind == "measure":
            ops += _measurement(draw, n, regs, max_params)
            measured.append(ops[-1].bit)
        elif kind == "reset":
            ops.append(Op("reset", (draw(st.integers(0, n - 1)),)))
        elif kind == "if_else" and measured:
            ops.append(_if_else(draw, n, regs, measured, max_params))
        else:
            ops.append(draw(unitary_ops(n, max_params)))
    if dynamic_ops and not any(op.name in ("measure", "reset") for op in ops):
        position = draw(st.integers(0, len(ops)))
        if "measure" not in dynamic_ops or draw(st.booleans()):
            ops.insert(position, Op("reset", (draw(st.integers(0, n - 1)),)))
        else:
            ops[position:position] = _measurement(draw, n, regs, max_params)
    return ops


def _measurement(draw, n: int, regs, max_params: int) -> list[Op]:
    """A measurement into a random bit, mostly after a gate that makes its outcome random."""
    qubit = draw(st.integers(0, n - 1))
    measure = Op("measure", (qubit,), bit=draw(st.sampled_from(_bits(regs))))
    superpose = draw(st.sampled_from([None, "h", "sx", "ry"]))
    if superpose == "ry":
        return [Op("ry", (qubit,), draw(angles(max_params))), measure]
    return [Op(superpose, (qubit,)), measure] if superpose else [measure]


def _if_else(draw, n: int, regs, measured: list, max_params: int) -> Op:
    """An ``if_else`` on a measured bit, or (one time in four) on its whole register's value."""
    if draw(st.integers(0, 3)) == 0:
        register = draw(st.sampled_from(sorted({r for r, _ in measured})))
        bit: tuple[int, int | None] = (register, None)
        value = draw(st.integers(0, 2 ** regs[register][1] - 1))
    else:
        bit = draw(st.sampled_from(measured))
        value = draw(st.integers(0, 1))
    bodies = st.lists(_branch_ops(n, regs, max_params), min_size=1, max_size=2).map(tuple)
    return Op("if_else", bit=bit, value=value, true_body=draw(bodies), false_body=draw(st.one_of(st.none(), bodies)))


def _branch_ops(n: int, regs, max_params: int) -> st.SearchStrategy[Op]:
    """An operation inside a branch: mostly a gate, sometimes a reset or a measurement."""
    qubits = st.integers(0, n - 1)
    reset = st.builds(lambda q: Op("reset", (q,)), qubits)
    measure = st.builds(lambda q, b: Op("measure", (q,), bit=b), qubits, st.sampled_from(_bits(regs)))
    return st.one_of(unitary_ops(n, max_params), unitary_ops(n, max_params), unitary_ops(n, max_params), reset, measure)


def _final_measurements(draw, n: int, regs, mode: str) -> list[Op]:
    bits = _bits(regs)
    if mode == "all":
        targets = draw(st.permutations(bits)) if len(bits) >= n else bits
        return [Op("measure", (qubit,), bit=targets[qubit % len(targets)]) for qubit in range(n)]
    if mode == "some":
        qubits = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1)))
        return [Op("measure", (qubit,), bit=draw(st.sampled_from(bits))) for qubit in qubits]
    return []


# -- shapes, parameter values, observables ------------------------------------------------------


@st.composite
def broadcast_shapes(draw) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(parameter shape, observable shape) that broadcast to one of :data:`RESULT_SHAPES`."""
    target = draw(st.sampled_from(RESULT_SHAPES))

    def part() -> tuple[int, ...]:
        ndim = draw(st.integers(0, len(target)))
        suffix = target[len(target) - ndim :]
        return tuple(1 if draw(st.integers(0, 3)) == 0 else dim for dim in suffix)

    first, second = part(), part()
    if np.broadcast_shapes(first, second) != target:  # make the observables carry what is missing
        second = target
    return first, second


def parameter_values(num_params: int, shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """Values for ``num_params`` parameters with the BindingsArray shape ``shape``: an array of
    shape ``shape + (num_params,)``, or a dict by parameter name (each ``shape + (1,)``: Qiskit
    reads the last axis as the parameters') or by the tuple of all names."""
    element = st.floats(-math.pi, math.pi).map(lambda x: round(x, 4))
    count = int(np.prod(shape)) if shape else 1
    flat = st.lists(element, min_size=count * num_params, max_size=count * num_params)
    array = flat.map(lambda values: np.array(values, dtype=float).reshape(shape + (num_params,)))
    if num_params == 0:
        return array
    names = tuple(f"p{k}" for k in range(num_params))
    per_name = array.map(lambda a: {name: a[..., k : k + 1] for k, name in enumerate(names)})
    one_key = array.map(lambda a: {names: a})
    return st.one_of(array, per_name, one_key)


@st.composite
def pauli_labels(draw, num_qubits: int) -> str:
    return "".join(draw(st.lists(st.sampled_from(LABEL_LETTERS), min_size=num_qubits, max_size=num_qubits)))


@st.composite
def projector_labels(draw, num_qubits: int) -> str:
    """A label with at least one projector letter (``0 1 + - r l``), the rest Paulis or identity."""
    letters = draw(st.lists(st.sampled_from(LABEL_LETTERS + PROJECTOR * 2), min_size=num_qubits, max_size=num_qubits))
    if not any(letter in PROJECTOR for letter in letters):
        letters[draw(st.integers(0, num_qubits - 1))] = draw(st.sampled_from(PROJECTOR))
    return "".join(letters)


def observable_elements(num_qubits: int, projectors: bool = False) -> st.SearchStrategy[Any]:
    """One observable: a Pauli string, a SparsePauliOp or a dict {label: coeff}; with ``projectors``
    also projector labels, alone or in dicts beside Paulis."""
    coeff = st.sampled_from(COEFFICIENTS)
    sparse = (
        st.lists(st.tuples(pauli_labels(num_qubits), coeff), min_size=1, max_size=3)
        .map(SparsePauliOp.from_list)
        .filter(_nonzero)
    )
    if not projectors:
        paulis = st.dictionaries(pauli_labels(num_qubits), coeff, min_size=1, max_size=3)
        return st.one_of(pauli_labels(num_qubits), sparse, paulis)
    label = st.one_of(pauli_labels(num_qubits), projector_labels(num_qubits))
    with_projector = st.dictionaries(label, coeff, min_size=1, max_size=3).filter(
        lambda d: any(set(k) & set(PROJECTOR) for k in d) and _nonzero(d)
    )
    return st.one_of(projector_labels(num_qubits), with_projector)


def _nonzero(observable: Any) -> bool:
    """Whether Qiskit accepts it: an observable that simplifies to 0 is refused ("Empty
    observable"), by Qiskit's primitives and qrt's alike (a case of its own in the refusal tests)."""
    try:
        ObservablesArray.coerce_observable(observable)
    except ValueError:
        return False
    return True


@st.composite
def observables(draw, num_qubits: int, shape: tuple[int, ...], projectors: bool = False) -> Any:
    """Observables as the nested lists a PUB takes (a single one for shape ``()``)."""
    if not shape:
        return draw(observable_elements(num_qubits, projectors))
    return [draw(observables(num_qubits, shape[1:], projectors)) for _ in range(shape[0])]


# -- PUB cases ----------------------------------------------------------------------------------


@dataclass
class EstimatorCase:
    """An Estimator PUB: a drawn ``spec`` (or, in regression tests, an explicit ``circuit``),
    observables, parameter values and the PUB's own precision."""

    spec: CircuitSpec | None
    observables: Any
    values: Any
    precision: float | None = None
    circuit: QuantumCircuit | None = None

    def build(self) -> QuantumCircuit:
        if self.circuit is not None:
            return self.circuit
        assert self.spec is not None
        return self.spec.build()

    @property
    def dynamic(self) -> bool:
        return self.spec.dynamic if self.spec is not None else _dynamic(self.build())

    def pub(self, circuit: QuantumCircuit | None = None) -> tuple:
        circuit = self.build() if circuit is None else circuit
        pub: tuple = (circuit, self.observables)
        if self.values is not None or self.precision is not None:
            pub += (self.values,)
        if self.precision is not None:
            pub += (self.precision,)
        return pub

    def code(self) -> str:
        circuit = self.spec.code() if self.spec is not None else str(self.build().draw())
        return f"{circuit}\nobservables = {self.observables!r}\nvalues = {_values_code(self.values)}"


@dataclass
class SamplerCase:
    """A Sampler PUB: a drawn ``spec`` (or an explicit ``circuit``), parameter values, shots."""

    spec: CircuitSpec | None
    values: Any
    shots: int | None = None
    circuit: QuantumCircuit | None = None

    def build(self) -> QuantumCircuit:
        if self.circuit is not None:
            return self.circuit
        assert self.spec is not None
        return self.spec.build()

    @property
    def measures(self) -> bool:
        """Whether any measurement writes a classical bit."""
        return _measures(self.build())

    @property
    def branches(self) -> bool:
        """Whether it has control flow (``if_else``)."""
        return any(isinstance(inst.operation, ControlFlowOp) for inst in self.build().data)

    def pub(self, circuit: QuantumCircuit | None = None) -> tuple:
        circuit = self.build() if circuit is None else circuit
        pub: tuple = (circuit,)
        if self.values is not None or self.shots is not None:
            pub += (self.values,)
        if self.shots is not None:
            pub += (self.shots,)
        return pub

    def code(self) -> str:
        circuit = self.spec.code() if self.spec is not None else str(self.build().draw())
        return f"{circuit}\nvalues = {_values_code(self.values)}"


def _dynamic(circuit: QuantumCircuit) -> bool:
    return any(
        inst.operation.name in ("measure", "reset") or isinstance(inst.operation, ControlFlowOp)
        for inst in circuit.data
    )


def _measures(circuit: QuantumCircuit) -> bool:
    return any(
        inst.operation.name == "measure"
        or (isinstance(inst.operation, ControlFlowOp) and any(_measures(block) for block in inst.operation.blocks))
        for inst in circuit.data
    )


def _values_code(values: Any) -> str:
    if isinstance(values, np.ndarray):
        return f"np.array({values.tolist()!r})"
    if isinstance(values, dict):
        return "{" + ", ".join(f"{k!r}: np.array({v.tolist()!r})" for k, v in values.items()) + "}"
    return repr(values)


@st.composite
def estimator_cases(
    draw,
    *,
    precision: bool = False,
    projectors: bool | st.SearchStrategy[bool] = False,
    shaped_empty_values: bool = False,
    **circuit_options: Any,
) -> EstimatorCase:
    """An Estimator PUB.

    Args:
        precision: sometimes give the PUB its own precision.
        projectors: observables with projector labels (else Pauli ones only); a strategy of
            booleans draws it.
        shaped_empty_values: a circuit without parameters gets values of a shape other than ``()``,
            ``shape + (0,)`` (else its parameter shape is ``()`` and the observables carry the
            PUB's shape).
    """
    if not isinstance(projectors, bool):
        projectors = draw(projectors)
    spec = draw(circuits(**circuit_options))
    param_shape, obs_shape = draw(broadcast_shapes())
    if spec.num_params == 0 and not shaped_empty_values:
        param_shape, obs_shape = (), np.broadcast_shapes(param_shape, obs_shape)
    elif spec.num_params == 0 and not param_shape:
        param_shape = draw(st.sampled_from([(2,), (3, 1), (1, 2)]))
        obs_shape = obs_shape if _broadcasts(param_shape, obs_shape) else ()
    values = draw(parameter_values(spec.num_params, param_shape))
    if spec.num_params == 0 and not param_shape and draw(st.booleans()):
        values = None  # a PUB of (circuit, observables)
    pub_precision = draw(st.sampled_from([None, 0.05, 0.03])) if precision else None
    return EstimatorCase(spec, draw(observables(spec.num_qubits, obs_shape, projectors)), values, pub_precision)


def _broadcasts(first: tuple[int, ...], second: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(first, second)
    except ValueError:
        return False
    return True


@st.composite
def sampler_cases(
    draw, *, shots: bool = False, shaped_empty_values: bool = False, **circuit_options: Any
) -> SamplerCase:
    """A Sampler PUB (``circuit_options`` as :func:`circuits`; final measurements of some or all
    qubits unless ``final_measure`` says otherwise); ``shaped_empty_values`` as for
    :func:`estimator_cases`."""
    circuit_options.setdefault("final_measure", "measured")
    spec = draw(circuits(**circuit_options))
    shape = draw(st.sampled_from([(), (), (1,), (2,), (2, 1), (3,)]))
    if spec.num_params == 0 and not shaped_empty_values:
        shape = ()
    elif spec.num_params == 0 and not shape:
        shape = draw(st.sampled_from([(2,), (2, 1), (3,)]))
    values = draw(parameter_values(spec.num_params, shape))
    if spec.num_params == 0 and not shape and draw(st.booleans()):
        values = None
    pub_shots = draw(st.sampled_from([None, 600, 1500])) if shots else None
    return SamplerCase(spec, values, pub_shots)

"""The values the config's options may take, and their limits: the library's own names, declared
here so that the schema can state them (the library's modules import them from here)."""

from __future__ import annotations

PRIMITIVES = ("estimator", "sampler")
SESSION_MODES = ("job", "session", "batch")
METHODS = ("automatic", "statevector", "density_matrix", "stabilizer", "matrix_product_state")
NOISE_FORMS = ("device", "pauli", "none")
PARAMETER_KINDS = ("one", "list", "grid", "random")
OPTIMIZERS = ("cobyla", "nelder-mead", "powell", "l-bfgs-b", "spsa", "adam")
INITIAL_POINTS = ("zeros", "random", "list")
ENTANGLEMENTS = ("full", "linear", "reverse_linear", "pairwise", "circular", "sca")
AMPLIFIERS = ("gate_folding", "gate_folding_front", "gate_folding_back", "pea")
EXTRAPOLATORS = ("linear", "exponential", "double_exponential", "fallback") + tuple(
    f"polynomial_degree_{k}" for k in range(1, 8)
)
EXTRAPOLATOR_CHOICES = ("uncertainty", "order")
SHOT_ALLOCATIONS = ("inverse_sqrt", "equal")
RANDOMIZATION_ALLOCATIONS = ("inverse_factor", "equal")
TWIRLING_STRATEGIES = ("active", "active-accum", "active-circuit", "all")
DD_SEQUENCES = ("XX", "XpXm", "XY4")
SLACK_DISTRIBUTIONS = ("middle", "edges")
SCHEDULING_METHODS = ("alap", "asap")
MAX_QUBITS = 100_000  # building a wider circuit alone takes minutes (qiskit refuses registers near 2**31)
MAX_THREADS = 2**31 - 1  # Aer takes a C int
MAX_TIMEOUT_S = 86_400  # a store call's deadline; far beyond it the clock arithmetic overflows
MAX_NOISE_FACTOR = 100.0  # beyond it a folded circuit is mostly noise, and its size runs away

"""Assertions shared by the conformance properties and their regression tests.

Statistics. Every statistical check has a stated false-alarm rate and is *confirmed* before it
fails: when a first run misses, the same PUB runs again with another seed and 4x the shots, and
the test fails only if that run misses too. A real bias (or a sampled branch passed off as exact)
misses both times; a fluke needs two independent ones.

- Estimator values: |ev - exact| <= 4 std + floor, where floor = norm * 20 / shots (norm = sum of
  |coeff|; a term whose rarer outcome has probability q shows no rare outcome in N shots with
  probability (1-q)^N, under e^-20 when q > 20/N, so a std estimated as 0 is covered). A Gaussian
  4-sigma miss has probability 6.3e-5 per value; confirmed, about 4e-9.
- Sampler counts: Pearson chi-square against the exact distribution (bins with expected count
  < 5 pooled), failing below p = 1e-4 (confirmed: 1e-8); an outcome of exact probability 0 fails
  at once. Against a noisy reference (Aer on the full fake device) the same test on the two
  samples' contingency table.
- Fake device, level 0, against BackendEstimatorV2 on Aer's whole-device simulation: 4 combined
  std + 0.02 x norm (its basis changes are noiseless, qrt's are device gates) + the floor.
- Fake device, levels 1 and 2: |ev - exact| <= 0.1 x norm + 4 std on circuits of <= 3 qubits and
  <= 6 gates: a model bound (the gate noise left after TREX/ZNE; see NOISY_BOUND), confirmed like
  the rest.
- Exact values (std 0 at precision 0), and multiples of the identity (added exactly, std 0) in any
  mode, must equal the reference to 1e-9; nothing statistical.
- A noisy estimate (fake device) reports a std of at least ``STD_FLOOR`` x norm: a smaller one
  claims a precision no number of shots run here can give.
- Refusals: a ValueError/TypeError/NotImplementedError with one line of text (not a failed job, a
  KeyError from inside, or a Qiskit error about an object qrt built wrongly).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from conformance import references

N_SIGMA = 4.0
ALPHA = 1e-4
EXACT_ATOL = 1e-9
IMPOSSIBLE = 1e-12
# |mitigated - exact| <= NOISY_BOUND * norm + 4 std on small circuits of a fake device. Calibrated on
# 368 values of drawn PUBs (qrt_runner at 483e7ec): |error| / norm at most 0.12 (level 1) and 0.25
# (level 2), none beyond 4 std; the bound is that margin again on top of 4 std.
NOISY_BOUND = 0.1
# A noisy estimate's std is at least this x norm: a smaller one claims a precision that no number of
# shots this suite runs can give (it is a degenerate fit or a trajectory passed off as exact).
STD_FLOOR = 1e-6
CLEAN_REFUSALS = (ValueError, TypeError, NotImplementedError)


# -- refusals ------------------------------------------------------------------------------------


def attempt(run: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """(result, None), or (None, the exception) when ``run`` raises."""
    try:
        return run(), None
    except Exception as exc:
        return None, exc


def assert_clean_refusal(exc: BaseException, what: str = "") -> None:
    """A refusal is a ValueError/TypeError/NotImplementedError with one line of text, not a crash
    from inside (KeyError, a failed simulation, a Qiskit error about a malformed internal object)."""
    message = str(exc)
    assert isinstance(exc, CLEAN_REFUSALS), f"{what}: not a clean refusal but {type(exc).__name__}: {message[:600]}"
    from qrt_runner.errors import JobError

    assert not isinstance(exc, JobError), f"{what}: the job failed instead of being refused: {message[:600]}"
    assert message.strip() and "\n" not in message.strip(), f"{what}: refusal message is not one line: {message!r}"
    assert len(message) < 400, f"{what}: refusal message is not one clear line: {message[:600]!r}"


# -- estimator -----------------------------------------------------------------------------------


def assert_estimator_structure(result, shape: tuple[int, ...], reference=None) -> None:
    """evs and stds are float64 arrays of the PUB's shape (as Qiskit's StatevectorEstimator gives)."""
    data = result.data
    for name in ("evs", "stds"):
        assert name in data, f"the DataBin has no {name}: {list(data)}"
        value = np.asarray(data[name])
        assert value.shape == shape, f"{name} has shape {value.shape}, the PUB's is {shape}"
        assert value.dtype == np.float64, f"{name} has dtype {value.dtype}, not float64"
    assert data.shape == shape, f"DataBin shape {data.shape}, the PUB's is {shape}"
    if reference is not None:
        for name in ("evs", "stds"):
            theirs = np.asarray(reference.data[name])
            assert (np.asarray(data[name]).shape, np.asarray(data[name]).dtype) == (theirs.shape, theirs.dtype)


def assert_exact(result, exact: np.ndarray, what: str = "") -> None:
    evs, stds = np.asarray(result.data.evs), np.asarray(result.data.stds)
    assert np.all(stds == 0), f"{what}: exact mode reports stds {stds}"
    bad = np.abs(evs - exact) > EXACT_ATOL
    assert not bad.any(), f"{what}: std 0 but not exact: evs {evs[bad]} expected {exact[bad]} (all evs {evs})"


def estimator_misses(
    result, exact: np.ndarray, norms: np.ndarray, shots: int, what: str = "", identity: np.ndarray | None = None
) -> list[str]:
    """Values further than 4 std + floor from exact (see the module docstring); a non-finite or
    negative std is a miss too. Where ``identity`` (the observable is a multiple of the identity,
    added exactly) the value must be exact with std 0; that is not statistical, so it fails at once."""
    evs, stds = np.asarray(result.data.evs, dtype=float), np.asarray(result.data.stds, dtype=float)
    misses = []
    floor = norms * 20.0 / max(shots, 1)
    for index in np.ndindex(evs.shape):
        ev, std, want = evs[index], stds[index], exact[index]
        if identity is not None and identity[index]:
            assert std == 0 and abs(ev - want) <= EXACT_ATOL, (
                f"{what} {index}: a multiple of the identity: {ev} +- {std}, exact {want}"
            )
        elif not (np.isfinite(ev) and np.isfinite(std) and std >= 0):
            misses.append(f"{what} {index}: ev {ev} std {std}")
        elif abs(ev - want) > N_SIGMA * std + floor[index] + EXACT_ATOL:
            misses.append(
                f"{what} {index}: ev {ev:.6f} exact {want:.6f} |error| {abs(ev - want):.2e} > "
                f"{N_SIGMA:g} std ({std:.2e}) + floor {floor[index]:.1e}"
            )
    return misses


def confirmed(run: Callable[[int], list[str]]) -> None:
    """``run(attempt)`` returns the misses of one run (attempt 0 as asked; attempt 1 with another
    seed and 4x the shots); fails when both attempts miss."""
    first = run(0)
    if not first:
        return
    second = run(1)
    assert not second, "missed twice (another seed, 4x the shots):\n  " + "\n  ".join(
        first[:6] + ["then:"] + second[:6]
    )


# -- sampler -------------------------------------------------------------------------------------


def assert_sampler_structure(result, circuit, shape: tuple[int, ...], shots: int, reference=None, at_least=False):
    """One BitArray per classical register of ``circuit``, in its order, with the register's width,
    the PUB's shape, ``shots`` shots (at least, with twirling) and uint8 data; the same names,
    widths, shapes and dtypes as Qiskit's StatevectorSampler where it runs the circuit."""
    data = result.data
    names = [register.name for register in circuit.cregs]
    assert list(data) == names, f"data-bin registers {list(data)}, the circuit's are {names}"
    assert data.shape == shape, f"DataBin shape {data.shape}, the PUB's is {shape}"
    for register in circuit.cregs:
        bits = data[register.name]
        assert bits.num_bits == register.size, (
            f"{register.name}: {bits.num_bits} bits, the register has {register.size}"
        )
        assert bits.shape == shape, f"{register.name}: shape {bits.shape}, the PUB's is {shape}"
        assert bits.array.dtype == np.uint8, f"{register.name}: dtype {bits.array.dtype}"
        assert bits.array.shape == shape + (bits.num_shots, (register.size + 7) // 8)
        if at_least:
            assert bits.num_shots >= shots, f"{register.name}: {bits.num_shots} shots, asked {shots}"
        else:
            assert bits.num_shots == shots, f"{register.name}: {bits.num_shots} shots, asked {shots}"
    if reference is not None and not isinstance(reference, Exception):
        theirs = reference.data
        assert list(theirs) == list(data)
        for name in theirs:
            assert (theirs[name].num_bits, theirs[name].shape, theirs[name].array.dtype) == (
                data[name].num_bits,
                data[name].shape,
                data[name].array.dtype,
            ), name


def chi_square_p(observed: np.ndarray, expected_probs: dict[int, float]) -> tuple[float, float, list[int]]:
    """(p-value, total-variation distance, outcomes seen that have exact probability 0)."""
    shots = len(observed)
    values, counts = np.unique(observed, return_counts=True)
    seen = dict(zip(values.tolist(), counts.tolist()))
    impossible = [k for k in seen if expected_probs.get(k, 0.0) < IMPOSSIBLE]
    support = sorted(k for k, p in expected_probs.items() if p >= IMPOSSIBLE)
    tv = 0.5 * sum(abs(seen.get(k, 0) / shots - expected_probs.get(k, 0.0)) for k in set(seen) | set(support))
    expected = np.array([expected_probs[k] * shots for k in support])
    got = np.array([seen.get(k, 0) for k in support], dtype=float)
    small = expected < 5
    if small.any():
        expected = np.append(expected[~small], expected[small].sum())
        got = np.append(got[~small], got[small].sum())
        if expected[-1] == 0:
            expected, got = expected[:-1], got[:-1]
    if len(expected) < 2:
        return 1.0, tv, impossible
    statistic = float(np.sum((got - expected) ** 2 / expected))
    return float(stats.chi2.sf(statistic, len(expected) - 1)), tv, impossible


def sampler_misses(result, circuit, exact: list[dict[int, float]], what: str = "") -> tuple[list[str], list[str]]:
    """(hard misses: impossible outcomes, statistical misses: chi-square below ALPHA) of every
    parameter set of a sampler result against its exact distribution."""
    hard, soft = [], []
    shape = result.data.shape
    for flat, index in enumerate(np.ndindex(shape)):
        observed = references.joined_outcomes(result.data, circuit, index)
        p, tv, impossible = chi_square_p(observed, exact[flat])
        if impossible:
            hard.append(f"{what} {index}: outcomes {impossible} have probability 0 (exact {exact[flat]})")
        if p < ALPHA:
            soft.append(f"{what} {index}: chi-square p = {p:.2e} < {ALPHA:g}, TV {tv:.3f}; exact {exact[flat]}")
    return hard, soft


def two_sample_p(first: np.ndarray | dict[int, int], second: np.ndarray | dict[int, int]) -> float:
    """Chi-square p-value that two samples of outcomes come from one distribution."""

    def as_counts(sample) -> dict[int, int]:
        if isinstance(sample, dict):
            return sample
        values, counts = np.unique(sample, return_counts=True)
        return dict(zip(values.tolist(), counts.tolist()))

    a, b = as_counts(first), as_counts(second)
    keys = sorted(set(a) | set(b))
    table = np.array([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]], dtype=float)
    expected_min = table.sum(axis=0) * min(table.sum(axis=1)) / table.sum()
    small = expected_min < 5
    if small.any():
        table = np.column_stack([table[:, ~small], table[:, small].sum(axis=1)])
        if table[:, -1].sum() == 0:
            table = table[:, :-1]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)

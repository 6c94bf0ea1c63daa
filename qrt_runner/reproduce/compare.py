"""Two runs side by side: their configs, inputs, environments and results, as lines for a terminal.

What ``qrt-run replay`` reports about a replay against its original, and ``qrt-run diff`` about
any two runs. Results are compared field by field: identical to the bit, or how far they moved
(largest absolute difference of expectation values and standard errors, total variation distance
of counts, the energies of an optimisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from qrt_runner.tracking.content import flatten_config

__all__ = ["Comparison", "compare"]


@dataclass
class Comparison:
    """The differences between run A and run B, by section (each a list of lines)."""

    results_identical: bool
    results: list[str] = field(default_factory=list)
    config: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for title, items, same in (
            ("results", self.results, "identical"),
            ("config", self.config, "the same"),
            ("inputs", self.inputs, "the same"),
            ("environment", self.environment, "the same"),
        ):
            out.append(f"{title}:" + ("" if items else f" {same}"))
            out += [f"  {line}" for line in items]
        return out


def compare(
    a: dict, b: dict, config_a: dict | None = None, config_b: dict | None = None, replay: bool = False
) -> Comparison:
    """Compare two runs' ``results.json`` (and resolved configs, when given). For a replay (``b``),
    inputs it did not read again (the experiment overlay: its values come from the record) are
    left out."""
    results, identical = _results(a, b)
    config = _config(config_a, config_b) + _effective(a, b)
    return Comparison(identical, results, config, _inputs(a, b, replay), _environment(a, b))


def _results(a: dict, b: dict) -> tuple[list[str], bool]:
    lines: list[str] = []
    identical = True
    if a.get("status") != b.get("status"):
        lines.append(f"status: {a.get('status')} -> {b.get('status')}")
        identical = False
    for key in ("evs", "stds"):
        if key in a or key in b:
            same, line = _arrays(key, a.get(key), b.get(key))
            identical &= same
            lines.append(line)
    if "counts" in a or "counts" in b:
        same, line = _counts("counts", a.get("counts"), b.get("counts"))
        identical &= same
        lines.append(line)
    if a.get("quasi_dists") is not None or b.get("quasi_dists") is not None:
        same, line = _counts("quasi_dists", a.get("quasi_dists"), b.get("quasi_dists"))
        identical &= same
        lines.append(line)
    opt_a, opt_b = a.get("optimization") or {}, b.get("optimization") or {}
    for key in ("best_energy", "final_energy", "iterations", "approximation_ratio"):
        if key in opt_a or key in opt_b:
            same = opt_a.get(key) == opt_b.get(key)
            identical &= same
            lines.append(
                f"optimization.{key}: "
                + (
                    "identical"
                    if same
                    else f"{opt_a.get(key)} -> {opt_b.get(key)}" + _delta(opt_a.get(key), opt_b.get(key))
                )
            )
    if opt_a or opt_b:
        energies = (
            [h.get("energy") for h in opt_a.get("history", [])],
            [h.get("energy") for h in opt_b.get("history", [])],
        )
        same, line = _arrays("optimization energies", *energies)
        identical &= same
        lines.append(line)
    if (a.get("scan") or {}).get("minimum") != (b.get("scan") or {}).get("minimum"):
        identical = False
        lines.append(f"scan.minimum: {(a.get('scan') or {}).get('minimum')} -> {(b.get('scan') or {}).get('minimum')}")
    return lines, identical


def _arrays(name: str, x: Any, y: Any) -> tuple[bool, str]:
    fx, fy = _flat(x), _flat(y)
    if len(fx) != len(fy):
        return False, f"{name}: {len(fx)} values -> {len(fy)} values"
    if fx == fy:
        return True, f"{name}: identical ({len(fx)} values)"
    diffs = [
        abs(p - q) for p, q in zip(fx, fy) if p is not None and q is not None and math.isfinite(p) and math.isfinite(q)
    ]
    missing = sum((p is None) != (q is None) for p, q in zip(fx, fy))
    moved = f"largest |difference| {max(diffs):.3g}" if diffs else "no comparable values"
    return False, f"{name}: differ ({moved} over {len(fx)} values" + (
        f"; {missing} present in one run only" if missing else ""
    ) + ")"


def _flat(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return [item for part in value for item in _flat(part)] if value and isinstance(value[0], list) else list(value)
    return [value]


def _counts(name: str, x: list | None, y: list | None) -> tuple[bool, str]:
    x, y = x or [], y or []
    if len(x) != len(y):
        return False, f"{name}: {len(x)} sets -> {len(y)} sets"
    if x == y:
        return True, f"{name}: identical ({len(x)} sets)"
    distances = [_tvd(p, q) for p, q in zip(x, y) if p is not None and q is not None]
    worst = f"largest total variation distance {max(distances):.3g}" if distances else "not comparable"
    return False, f"{name}: differ ({worst} over {len(x)} sets)"


def _tvd(p: dict, q: dict) -> float:
    total_p, total_q = sum(p.values()) or 1, sum(q.values()) or 1
    return 0.5 * sum(abs(p.get(k, 0) / total_p - q.get(k, 0) / total_q) for k in set(p) | set(q))


def _delta(x: Any, y: Any) -> str:
    try:
        return f" (difference {float(y) - float(x):+.3g})"
    except (TypeError, ValueError):
        return ""


def _config(a: dict | None, b: dict | None) -> list[str]:
    if a is None or b is None:
        return []
    fa, fb = flatten_config(a), flatten_config(b)
    return [
        f"{key}: {fa.get(key, '(absent)')} -> {fb.get(key, '(absent)')}"
        for key in sorted(set(fa) | set(fb))
        if fa.get(key) != fb.get(key) and not key.startswith("tracking.")
    ]


def _effective(a: dict, b: dict) -> list[str]:
    """The effective mitigation options that differ: the same config read by another version
    (an unset option whose default changed) runs other work."""
    ea, eb = (a.get("mitigation") or {}).get("effective"), (b.get("mitigation") or {}).get("effective")
    if not isinstance(ea, dict) or not isinstance(eb, dict):
        return []
    fa, fb = flatten_config(ea), flatten_config(eb)
    return [
        f"mitigation (effective) {key}: {fa.get(key, '(absent)')} -> {fb.get(key, '(absent)')}"
        for key in sorted(set(fa) | set(fb))
        if fa.get(key) != fb.get(key)
    ]


def _inputs(a: dict, b: dict, replay: bool) -> list[str]:
    ia = {item["key"]: item for item in a.get("inputs") or []}
    ib = {item["key"]: item for item in b.get("inputs") or []}
    lines = []
    for key in sorted(set(ia) & set(ib) if replay else set(ia) | set(ib)):
        ha, hb = ia.get(key, {}).get("sha256"), ib.get(key, {}).get("sha256")
        if ha != hb:
            lines.append(f"{key}: sha256 {str(ha)[:12]} -> {str(hb)[:12]}")
    return lines


def _environment(a: dict, b: dict) -> list[str]:
    ea, eb = a.get("environment") or {}, b.get("environment") or {}
    va, vb = ea.get("versions") or a.get("versions") or {}, eb.get("versions") or b.get("versions") or {}
    lines = [
        f"{name}: {va.get(name)} -> {vb.get(name)}"
        for name in sorted(set(va) | set(vb))
        if va.get(name) != vb.get(name)
    ]
    for key in ("qrt_runner_commit", "qrt_runner_dirty", "python", "platform"):
        if ea.get(key) != eb.get(key):
            lines.append(f"{key}: {ea.get(key)} -> {eb.get(key)}")
    da, db = a.get("device") or {}, b.get("device") or {}
    for key in sorted(set(da) | set(db)):
        if da.get(key) != db.get(key):
            lines.append(f"device.{key}: {da.get(key)} -> {db.get(key)}")
    return lines

"""The files a run keeps in its directory besides ``results.json`` and ``config.yaml``.

``{name}.qpy`` and ``{name}.txt`` per circuit (the text drawing is summarised or cut when it would
be huge) and the plots: ``plot.png`` (values, histogram, convergence or landscape) and, with ZNE,
``zne.png``; PEC and PEA also keep the ``layer_noise_model.json`` they used.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

    from qrt_runner.records.results import RunResult

__all__ = ["write_run_artifacts", "circuit_text"]

_LOG = logging.getLogger(__name__)

# Text drawings: circuits with more operations than this are summarised, not drawn (drawing
# cost grows with size); lines are cut at this many columns; circuits wider than this many
# qubits (ISA circuits on large devices) are drawn without their idle wires.
_MAX_DRAW_OPS = 5000
_MAX_TEXT_COLUMNS = 2000
_MAX_DRAWN_IDLE_QUBITS = 16
_INVALID_NAME_CHARS = re.compile(r"[^\w.\-]")


def write_run_artifacts(
    run_dir: Path,
    result: RunResult,
    circuits: Mapping[str, QuantumCircuit],
    between: Callable[[], None] | None = None,
) -> list[Path]:
    """Write the circuit files and plots of a run into ``run_dir``; returns the paths written.
    ``between()`` is called before each drawing and plot (a background writer yields there)."""
    between = between or (lambda: None)
    from qrt_runner.records.plots import plot_result, plot_zne

    run_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    if circuits:
        from qiskit import qpy

        for name, circuit in circuits.items():
            stem = _INVALID_NAME_CHARS.sub("_", name).lstrip(".") or "_"
            qpy_path = run_dir / f"{stem}.qpy"
            with qpy_path.open("wb") as handle:
                qpy.dump(circuit, handle)
            text_path = run_dir / f"{stem}.txt"
            between()
            text_path.write_text(_drawing(circuit, stem))
            paths.extend([qpy_path, text_path])
    for plot, name in ((plot_result, "plot.png"), (plot_zne, "zne.png")):
        between()
        try:
            path = plot(result, run_dir / name)
        except Exception:  # a broken plot must not lose the run's record
            _LOG.warning("could not draw %s of %s", name, run_dir, exc_info=True)
            path = None
        if path is not None:
            paths.append(Path(path))
    model = result.write_layer_noise_model(run_dir / "layer_noise_model.json")
    if model is not None:
        paths.append(model)
    return paths


_DRAWINGS: dict[str, str] = {}  # drawings by content, so the points of a sweep draw their circuit once
_MAX_DRAWINGS = 16


def _drawing(circuit: QuantumCircuit, stem: str) -> str:
    """:func:`circuit_text`, reused for a circuit with the same instructions (a sweep's points
    build equal circuits again and again; drawing 1,000 operations takes ~0.1 s)."""
    content: list[tuple] = [(circuit.num_qubits, circuit.num_clbits, circuit.name, stem)]
    for instruction in circuit.data:
        content.append(
            (
                instruction.operation.name,
                tuple(str(param) for param in instruction.operation.params),
                tuple(circuit.find_bit(bit).index for bit in instruction.qubits),
                tuple(circuit.find_bit(bit).index for bit in instruction.clbits),
            )
        )
    key = hashlib.sha256(repr(content).encode()).hexdigest()
    text = _DRAWINGS.get(key)
    if text is None:
        if len(_DRAWINGS) >= _MAX_DRAWINGS:
            _DRAWINGS.pop(next(iter(_DRAWINGS)))
        text = _DRAWINGS[key] = circuit_text(circuit, stem)
    return text


def circuit_text(circuit: QuantumCircuit, stem: str) -> str:
    """The text drawing of ``circuit``, summarised or cut when it would be huge."""
    summary = (
        f"# {circuit.name}: {circuit.num_qubits} qubits, {circuit.num_clbits} clbits, "
        f"size {circuit.size()}, depth {circuit.depth()}, ops {dict(circuit.count_ops())}\n"
    )
    if circuit.size() > _MAX_DRAW_OPS:
        return (
            summary
            + f"# not drawn: more than {_MAX_DRAW_OPS} operations; load {stem}.qpy with qiskit.qpy.load to inspect it\n"
        )
    idle_wires = circuit.num_qubits <= _MAX_DRAWN_IDLE_QUBITS
    text = str(circuit.draw(output="text", fold=-1, idle_wires=idle_wires))
    lines = text.splitlines()
    if all(len(line) <= _MAX_TEXT_COLUMNS for line in lines):
        return text + "\n"
    cut = "\n".join(line[:_MAX_TEXT_COLUMNS] for line in lines)
    return summary + f"# drawing cut at {_MAX_TEXT_COLUMNS} columns; the full circuit is in {stem}.qpy\n" + cut + "\n"

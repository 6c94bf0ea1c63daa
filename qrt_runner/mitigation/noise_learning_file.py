"""A learned layer noise model as a record: the layer file format of :mod:`.layer_noise` with the
learning's error bars, pair fidelities, fit residuals, options and cost beside each layer.

``qrt-run`` writes it as the run's ``layer_noise_model.json`` (PEC and PEA record the model they
used); :func:`~qrt_runner.mitigation.layer_noise.load_layer_noise` reads it back (the extra keys
are kept for people, not needed to mitigate), so ``mitigation.layer_noise.source=file`` and
``qrt-run replay`` reuse a learned model instead of learning again.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qrt_runner.mitigation.layer_noise import FORMAT, layer_to_dict


def learned_details(learned) -> dict:
    """Per layer: the rates' standard deviations, the pair fidelities (value, std, partner Pauli,
    chi2/dof of the decay fit, residual of the model in standard deviations), and the cost."""
    fit = learned.fit
    return {
        "rates_std": dict(zip(fit.labels, fit.rates_std)),
        "pair_fidelities": {
            label: {
                "value": value,
                "std": std,
                "partner": partner,
                "decay_chi2_per_dof": chi2,
                "model_residual_std": fit.residuals.get(label),
            }
            for label, (value, std, partner, chi2) in learned.pair_fidelities.items()
        },
        "max_abs_model_residual_std": max((abs(r) for r in fit.residuals.values()), default=0.0),
        "learning_cost": {"circuits": learned.circuits, "shots": learned.shots, "wall_s": round(learned.wall_s, 3)},
    }


def learning_summary(layers: list, options, unlearned: int) -> dict:
    """The learning's options and total cost over ``layers`` (and how many layers were left unlearned)."""
    return {
        "options": {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(options).items()},
        "layers_learned": len(layers),
        "layers_not_learned": unlearned,
        "circuits": sum(layer.circuits for layer in layers),
        "shots": sum(layer.shots for layer in layers),
        "wall_s": round(sum(layer.wall_s for layer in layers), 3),
    }


def learned_to_dict(layers: list, options, device_name: str, dressings: list | None = None) -> dict:
    """Learned layers as one model file (``layers`` as :func:`layer_to_dict` writes them, each with
    :func:`learned_details`)."""
    out = []
    for number, learned in enumerate(layers):
        dressing = dressings[number] if dressings is not None else ()
        entry = layer_to_dict(learned.layer.gates, learned.model(), dressing)
        entry.update(learned_details(learned))
        out.append(entry)
    return {
        "format": FORMAT,
        "source": f"learned on {device_name}",
        "learning": learning_summary(layers, options, 0),
        "layers": out,
    }


def write_learned(path: str | Path, layers: list, options, device_name: str, dressings: list | None = None) -> Path:
    """Write learned layers as a model file (JSON) that ``load_layer_noise`` reads back."""
    path = Path(path)
    path.write_text(json.dumps(learned_to_dict(layers, options, device_name, dressings), indent=1, default=_plain))
    return path


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__}")

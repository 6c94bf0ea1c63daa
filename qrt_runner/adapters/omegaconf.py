"""OmegaConf's private node API.

Checked against omegaconf 2.3.0 and 2.3.1 (tests/test_adapters.py passes with both); held below 2.4
(pyproject.toml), where the node API may change.

OmegaConf is imported by the callers already; this module imports nothing of it.
"""

from __future__ import annotations

from typing import Any

from qrt_runner.adapters.versions import check_versions

__all__ = ["SUPPORTED", "check_supported", "child_node", "is_none_node"]

SUPPORTED = {"omegaconf": ">=2.3,<2.4"}


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless the installed
    OmegaConf is in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def child_node(node: Any, key: Any) -> Any:
    """The child node of a ``DictConfig`` (or ``ListConfig``) under ``key``, unresolved, through
    ``node._get_node(key)``. Public: none (``node[key]`` and ``OmegaConf.select`` resolve
    interpolations and raise on missing values; ``OmegaConf.to_container(resolve=False)`` gives
    plain values, not nodes)."""
    return node._get_node(key)


def is_none_node(node: Any) -> bool:
    """Whether a config node holds None (a ``DictConfig`` set to null), through ``node._is_none()``.
    Public: none for a node object (OmegaConf 2.3 has no ``OmegaConf.is_none``)."""
    return bool(node._is_none())

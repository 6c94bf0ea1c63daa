"""One subtree of ``primitive.options``: a dataclass validated on every assignment, as IBM's are.

A bound node mirrors itself onto the matching object of a private qiskit-ibm-runtime options tree
(``_ibm``): an assignment to a leaf IBM also has is IBM's assignment (its pydantic validation, its
coercion: the stored value is the one IBM stores); assigning a subtree (a dict or an options
object) replaces it, validated as a whole, as IBM's ``validate_assignment`` does. qrt_runner's own
leaves are checked by :mod:`qrt_runner.runtime.validation`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from qrt_runner.adapters.qiskit_ibm_runtime import is_unset
from qrt_runner.runtime.validation import (
    OWN,
    NoSuchOption,
    check_own,
    check_supported,
    from_ibm,
    join,
    set_ibm,
    to_ibm,
)

__all__ = ["OptionNode", "as_dict"]


class OptionNode:
    """Base of every options dataclass (root and subtrees); ``_path`` and ``_ibm`` are set when bound."""

    _path: str
    _ibm: Any

    def __setattr__(self, name: str, value: Any) -> None:
        if "_path" not in self.__dict__:  # the dataclass __init__ filling the fields: checked when bound
            object.__setattr__(self, name, value)
            return
        field = _fields(self).get(name)
        if field is None:
            raise NoSuchOption(f"options.{join(self._path, name)}: no such option (the names are qiskit-ibm-runtime's)")
        value = self._subtree(name, value) if _is_subtree(field) else self._leaf(name, value)
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:  # only for names that are not there
        if name.startswith("_"):
            raise AttributeError(name)
        path = join(self.__dict__.get("_path", ""), name)
        raise NoSuchOption(f"options.{path}: no such option (the names are qiskit-ibm-runtime's)")

    def update(self, **kwargs: Any) -> None:
        """Set several options; a dict for a subtree changes only the leaves it names (IBM's ``update``)."""
        for key, value in kwargs.items():
            if key.startswith("_"):  # IBM's update skips _VERSION and the like
                continue
            field = _fields(self).get(key)
            if field is not None and _is_subtree(field):
                value = _merge(dataclasses.asdict(getattr(self, key)), as_dict(value, join(self._path, key)))
            setattr(self, key, value)

    def _bind(self, path: str, ibm: Any) -> None:
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_ibm", ibm)

    @classmethod
    def _new(cls, path: str) -> OptionNode:
        """A subtree with its defaults, bound at ``path`` all the way down (to IBM's once pulled)."""
        node = cls()
        node._bind(path, None)
        for field in dataclasses.fields(node):  # type: ignore[arg-type]
            if _is_subtree(field):
                object.__setattr__(node, field.name, field.default_factory._new(join(path, field.name)))  # type: ignore[union-attr]
        return node

    def _leaf(self, name: str, value: Any) -> Any:
        path = join(self._path, name)
        check_supported(path, value)
        if _mirrored(self._ibm, name, path):
            return from_ibm(set_ibm(self._ibm, name, to_ibm(value, self._ibm, name), path))
        return check_own(path, value)

    def _subtree(self, name: str, value: Any) -> OptionNode:
        """A new subtree from a dict or an options object: IBM validates its part as one assignment."""
        path = join(self._path, name)
        tree = as_dict(value, path)
        check_supported(path, tree)
        ibm_default = type(getattr(self._ibm, name))() if _mirrored(self._ibm, name, path) else None
        node = _fields(self)[name].default_factory._new(path)  # type: ignore[union-attr]
        ibm_tree = node._prepare(tree, ibm_default)
        if ibm_default is not None:
            set_ibm(self._ibm, name, ibm_tree, path)
            node._pull(getattr(self._ibm, name))
        return node

    def _prepare(self, tree: dict, ibm: Any) -> dict:
        """Check a subtree's names and qrt_runner's leaves (stored here); returns IBM's part of it."""
        out: dict[str, Any] = {}
        for key, value in tree.items():
            path = join(self._path, key)
            field = _fields(self).get(key)
            if field is None or key.startswith("_"):
                raise NoSuchOption(f"options.{path}: no such option (the names are qiskit-ibm-runtime's)")
            mirrored = _mirrored(ibm, key, path)
            if _is_subtree(field):
                child = field.default_factory._new(path)  # type: ignore[union-attr]
                subtree = as_dict(value, path)
                check_supported(path, subtree)
                part = child._prepare(subtree, getattr(ibm, key) if mirrored else None)
                object.__setattr__(self, key, child)
                if mirrored:
                    out[key] = part
                continue
            check_supported(path, value)
            if mirrored:
                out[key] = to_ibm(value, ibm, key)
            else:
                object.__setattr__(self, key, check_own(path, value))
        return out

    def _pull(self, ibm: Any) -> None:
        """Bind to IBM's object and take the values it holds (IBM's Unset keeps the default here)."""
        object.__setattr__(self, "_ibm", ibm)
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            if field.name not in _fields(ibm):
                continue
            path, value = join(self._path, field.name), getattr(ibm, field.name)
            if _is_subtree(field):
                getattr(self, field.name)._pull(value)
            elif is_unset(value) or (path in OWN and value is None):
                continue
            elif path in OWN:
                object.__setattr__(self, field.name, check_own(path, value))
            else:
                check_supported(path, value)
                object.__setattr__(self, field.name, from_ibm(value))


def as_dict(value: Any, path: str) -> dict:
    """A subtree's value as a plain dict: a dict, qrt_runner's node or IBM's options object."""
    if isinstance(value, dict):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: v for k, v in dataclasses.asdict(value).items() if not k.startswith("_")}
    raise ValueError(f"options.{path}={value!r}: must be a dict or an options object")


def _fields(obj: Any) -> dict[str, dataclasses.Field]:
    return getattr(type(obj), "__dataclass_fields__", {})


def _is_subtree(field: dataclasses.Field) -> bool:
    factory = field.default_factory
    return isinstance(factory, type) and issubclass(factory, OptionNode)


def _mirrored(ibm: Any, name: str, path: str) -> bool:
    """Whether IBM's options (at this node) validate this name: the leaves both have, but OWN."""
    return ibm is not None and name in _fields(ibm) and path not in OWN


def _merge(old: dict, new: dict) -> dict:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            value = _merge(old[key], value)
        old[key] = value
    return old

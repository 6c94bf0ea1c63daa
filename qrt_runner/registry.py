"""Registries of named extension points: circuit families, observable models, backend kinds.

Each entry pairs a config-group option name with its schema dataclass (what the YAML file of
that option fills in) and the function that builds it. Adding one is one function registered
here and one YAML file in ``conf/<group>/``; the config store is filled from the registries, and
an unknown name is refused with the list of choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from qrt_runner.errors import ConfigError

B = TypeVar("B", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry(Generic[B]):
    """One registered option: its name, schema dataclass and builder."""

    name: str
    schema: type
    build: B


class Registry(Generic[B]):
    """Named entries of one extension point.

    Args:
        kind: what an entry is, for messages (``circuit family``).
        key: the config key that names one (``circuit``).
    """

    def __init__(self, kind: str, key: str):
        self.kind, self.key = kind, key
        self._entries: dict[str, Entry[B]] = {}

    def register(self, name: str, schema: type) -> Callable[[B], B]:
        """Decorator: register the decorated builder under ``name`` with its ``schema``."""

        def add(build: B) -> B:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, schema, build)
            return build

        return add

    def get(self, name: str) -> Entry[B]:
        """The entry called ``name``.

        Raises:
            ConfigError: naming the key, the unknown name and the choices.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                self.key, name, f"is not a known {self.kind}", f"choose one of {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[B]]:
        return iter(self._entries.values())

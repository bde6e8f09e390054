"""Credentials: resolved secrets that never show up when printed, logged or raised."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shipyard.config._tree import copy_tree
from shipyard.errors import CredentialsError, did_you_mean

__all__ = ["Credentials"]


class _Entry(Mapping[str, Any]):
    """One credentials entry: a read-only mapping whose repr shows its keys, not values."""

    __slots__ = ("_name", "_values")

    def __init__(self, name: str, values: Mapping[str, Any]) -> None:
        self._name = name
        self._values = copy_tree(dict(values))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        keys = ", ".join(f"{key}=***" for key in self._values)
        return f"Credentials[{self._name!r}]({keys})"

    __str__ = __repr__


class Credentials(Mapping[str, Mapping[str, Any]]):
    """Credentials entries by name. ``repr`` and ``str`` show names and ``***`` only.

    >>> creds = Credentials({"db": {"con": "postgresql://u:s3cret@host/db"}})
    >>> creds
    Credentials(db=***)
    >>> creds["db"]["con"].startswith("postgresql")
    True
    """

    __slots__ = ("_entries", "_searched")

    def __init__(
        self,
        entries: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        searched: Sequence[str] = (),
    ) -> None:
        """``searched`` names the folders read (``conf/base``, ``conf/local``) for messages."""
        self._entries: dict[str, _Entry] = {}
        for name, values in (entries or {}).items():
            if not isinstance(values, Mapping):
                raise CredentialsError(
                    f"Credentials entry '{name}' must be a mapping of keys to values, "
                    f"not a {type(values).__name__}.",
                    hint=f"Write it with one key per value, e.g.\n  {name}:\n    token: ...",
                )
            self._entries[str(name)] = _Entry(str(name), values)
        self._searched = tuple(searched)

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Credentials({', '.join(f'{name}=***' for name in self._entries)})"

    __str__ = __repr__

    def require(self, name: str, *, used_by: str) -> Mapping[str, Any]:
        """The entry ``name``, or a :class:`CredentialsError` naming it and ``used_by``.

        ``used_by`` says who needs it, as it should read in the message, for example
        ``"dataset 'customers'"``.
        """
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        where = " or ".join(self._searched) + " " if self._searched else "any "
        target = self._searched[-1] if self._searched else "conf/local"
        variable = f"{name.upper().replace('-', '_')}_PASSWORD"
        raise CredentialsError(
            f"Credentials '{name}' needed by {used_by} are not defined in {where}"
            "credentials*.yml." + did_you_mean(name, self._entries),
            hint=f"Add the entry to {target}/credentials.yml (keep it out of git), reading "
            f"secrets from the environment, e.g.\n  {name}:\n"
            f"    password: ${{oc.env:{variable}}}",
        )

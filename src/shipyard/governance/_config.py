"""Reading ``governance.yml`` strictly: its top-level keys, and errors that name a key path.

The file is read like every other kind of config (``conf/base/governance.yml`` with
``conf/<env>`` merged over it); the functions here take the merged plain mapping. A typo
in this file must not pass silently: ``user:`` instead of ``users:`` would hand everyone
full rights, and ``promotions:`` would drop every gate. So every mapping is checked for
unknown keys, and every value for its type, with the path of the key in the message::

    conf/base/governance.yml, promotion.champion.gates[1]: expected a mapping ...

The top-level keys::

    intended_use: "..."      # text for the model cards
    users: {...}             # local users and their roles   (shipyard.governance)
    promotion: {...}         # gates and approvals per alias (shipyard.models)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from shipyard.errors import ConfigError, did_you_mean

__all__ = ["DEFAULT_SOURCE", "GOVERNANCE_KEYS", "ConfigPath", "check_governance", "yaml_type"]

#: Where the governance config lives unless a caller names the file it came from.
DEFAULT_SOURCE = "conf/base/governance.yml"
#: The top-level keys ``governance.yml`` may hold.
GOVERNANCE_KEYS = ("intended_use", "promotion", "users")


# Checked in order: bool before int, because true/false are ints in Python.
_YAML_TYPES = (
    (type(None), "nothing (null)"),
    (bool, "true/false"),
    (int | float, "a number"),
    (str, "a string"),
    (Mapping, "a mapping"),
    (list | tuple, "a list"),
)


def yaml_type(value: Any) -> str:
    """What ``value`` is, in the words of YAML: "a list", "a string", "a number", ..."""
    for kind, name in _YAML_TYPES:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class ConfigPath:
    """A key path inside one config file, for messages: ``promotion.champion.gates[1]``.

    >>> ConfigPath("conf/base/governance.yml").key("promotion").key("champion").item(0).path
    'promotion.champion[0]'
    """

    source: str
    path: str = ""
    #: The page that documents the file, named in the hints.
    docs: str = "docs/registry.md"

    def key(self, name: object) -> ConfigPath:
        """The path of key ``name`` below this one."""
        return replace(self, path=f"{self.path}.{name}" if self.path else str(name))

    def item(self, index: int) -> ConfigPath:
        """The path of list item ``index`` below this one."""
        return replace(self, path=f"{self.path}[{index}]")

    def error(self, problem: str, *, hint: str) -> ConfigError:
        """A ConfigError whose message starts with the file and this key path."""
        where = f"{self.source}, {self.path}" if self.path else self.source
        return ConfigError(f"{where}: {problem}", hint=hint)

    def mapping(self, value: Any, *, hint: str) -> Mapping[str, Any]:
        """``value`` if it is a mapping with string keys, else a ConfigError."""
        if not isinstance(value, Mapping):
            raise self.error(f"expected a mapping, got {yaml_type(value)}.", hint=hint)
        for key in value:
            if not isinstance(key, str) or not key:
                raise self.error(
                    f"the key {key!r} is not a name.",
                    hint="Write names as plain text; quote names that YAML would read as "
                    "numbers or true/false.",
                )
        return value

    def string(self, value: Any, *, hint: str) -> str:
        """``value`` if it is a non-empty string, else a ConfigError."""
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"expected text, got {yaml_type(value)}.", hint=hint)
        return value.strip()

    def items(self, value: Any, *, hint: str) -> list[Any]:
        """``value`` if it is a list, ``[]`` if it is null, else a ConfigError."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(f"expected a list, got {yaml_type(value)}.", hint=hint)
        return value

    def non_negative(self, value: Any, *, hint: str, whole: bool = False) -> float:
        """``value`` if it is a finite number of 0 or more (a whole one if ``whole``)."""
        kind = int if whole else int | float
        if isinstance(value, bool) or not isinstance(value, kind) or not 0 <= value < math.inf:
            expected = "a whole number" if whole else "a number"
            raise self.error(f"expected {expected} of 0 or more, got {value!r}.", hint=hint)
        return value

    def check_keys(self, mapping: Mapping[str, Any], allowed: Iterable[str]) -> None:
        """Raise a ConfigError naming the first key of ``mapping`` not in ``allowed``."""
        allowed = tuple(allowed)
        for key in mapping:
            if key not in allowed:
                raise self.error(
                    f"unknown key '{key}'." + did_you_mean(str(key), allowed),
                    hint=f"Keys allowed here: {', '.join(allowed)} ({self.docs}).",
                )


def check_governance(
    governance: Mapping[str, Any] | None, *, source: str = DEFAULT_SOURCE
) -> Mapping[str, Any]:
    """The governance mapping with its top-level keys and ``intended_use`` checked;
    ``{}`` for ``None`` (a project without ``governance.yml``)."""
    if governance is None:
        return {}
    root = ConfigPath(source)
    governance = root.mapping(
        governance, hint="Give governance.yml top-level keys: " + ", ".join(GOVERNANCE_KEYS)
    )
    root.check_keys(governance, GOVERNANCE_KEYS)
    intended_use = governance.get("intended_use")
    if intended_use is not None:
        root.key("intended_use").string(
            intended_use, hint='Write one sentence, e.g. intended_use: "Predict churn; ..."'
        )
    return governance

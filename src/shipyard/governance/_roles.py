"""Users, roles and the one permission check every layer above calls.

Three roles, after the people who share a model's life:

==================  =====================================================================
role                may
==================  =====================================================================
data_scientist      models.register, models.tag, runs.delete
ml_engineer         models.register, models.promote, models.approve, models.tag,
                    runs.delete, data.gc
governance          models.approve, models.trust
==================  =====================================================================

Reading (listing, showing, history, model cards) is not an action: every role, the
governance officers' included, reads everything.

Until the team server brings real accounts, users and their roles come from the
``users`` key of ``governance.yml``::

    users:
      alice: [data_scientist]
      bob: [ml_engineer]
      carol: [governance, ml_engineer]

When ``users`` is absent or empty, Shipyard runs in the local embedded mode: whoever runs
it (:func:`current_user`) holds every role, so every check passes, and what they do is
still recorded under their name. Once any user is listed, a user not listed has no role.

>>> users = Users.from_config({"users": {"alice": ["data_scientist"]}})
>>> check("models.register", user="alice", users=users)
'data_scientist'
>>> check("models.promote", user="alice", users=users)
Traceback (most recent call last):
...
shipyard.errors.PermissionDeniedError: alice (roles: data_scientist) may not \
models.promote (move an alias to a model version); it needs the role ml_engineer.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shipyard.errors import ConfigError, PermissionDeniedError, did_you_mean
from shipyard.governance._config import DEFAULT_SOURCE, ConfigPath, check_governance, yaml_type

__all__ = [
    "ACTIONS",
    "DATA_SCIENTIST",
    "GOVERNANCE",
    "ML_ENGINEER",
    "PERMISSIONS",
    "ROLES",
    "Users",
    "check",
    "current_user",
    "read_roles",
    "roles_allowed",
]

DATA_SCIENTIST = "data_scientist"
ML_ENGINEER = "ml_engineer"
GOVERNANCE = "governance"
#: Every role, in the order a role is picked when a user holds several.
ROLES = (DATA_SCIENTIST, ML_ENGINEER, GOVERNANCE)

#: Every action a permission check knows, with what it does.
ACTIONS: Mapping[str, str] = MappingProxyType(
    {
        "models.register": "register a model version",
        "models.promote": "move an alias to a model version",
        "models.approve": "approve a pending promotion",
        "models.trust": "mark a model version trusted to load code-carrying files",
        "models.tag": "tag or describe a model or version",
        "runs.delete": "delete a run",
        "data.gc": "delete unreferenced data from the object store",
    }
)

#: Which actions each role may take (the table in the module docstring).
PERMISSIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        DATA_SCIENTIST: frozenset({"models.register", "models.tag", "runs.delete"}),
        ML_ENGINEER: frozenset(
            {
                "models.register",
                "models.promote",
                "models.approve",
                "models.tag",
                "runs.delete",
                "data.gc",
            }
        ),
        GOVERNANCE: frozenset({"models.approve", "models.trust"}),
    }
)

_USERS_HINT = "Write users as `name: [role, ...]`, e.g. `alice: [data_scientist]`."


def current_user() -> str:
    """Who is acting: ``$SHIPYARD_USER`` when set, else the OS login name."""
    named = os.environ.get("SHIPYARD_USER", "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name, e.g. a container's bare uid
        if hasattr(os, "getuid"):
            return f"uid-{os.getuid()}"
        raise ConfigError(
            "Cannot tell who is running Shipyard: there is no login name.",
            hint="Set SHIPYARD_USER to your user name.",
        ) from None


def roles_allowed(action: str) -> tuple[str, ...]:
    """The roles that may take ``action``; ValueError for an action no check knows."""
    if action not in ACTIONS:
        known = ", ".join(ACTIONS)
        raise ValueError(
            f"Unknown action {action!r}.{did_you_mean(action, ACTIONS)} Known actions: {known}."
        )
    return tuple(role for role in ROLES if action in PERMISSIONS[role])


@dataclass(frozen=True)
class Users:
    """The users ``governance.yml`` lists and their roles. ``Users()`` lists nobody:
    the local embedded mode, where every user holds every role."""

    assignments: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, governance: Mapping[str, Any] | None, *, source: str = DEFAULT_SOURCE
    ) -> Users:
        """The users of a merged ``governance.yml`` mapping (``None``: no file).

        Raises ConfigError, naming the key path and ``source``, for a misspelt key, a
        value that is not a list of roles, or an unknown role.
        """
        governance = check_governance(governance, source=source)
        path = ConfigPath(source).key("users")
        listed = governance.get("users")
        if listed is None:
            return cls()
        listed = path.mapping(listed, hint=_USERS_HINT)
        return cls(
            MappingProxyType(
                {
                    user: frozenset(read_roles(path.key(user), roles, hint=_USERS_HINT))
                    for user, roles in listed.items()
                }
            )
        )

    @property
    def configured(self) -> bool:
        """Whether any user is listed; if not, everyone holds every role."""
        return bool(self.assignments)

    def roles_of(self, user: str) -> frozenset[str]:
        """The roles ``user`` holds: every role when no users are configured, none when
        users are configured but ``user`` is not among them."""
        if not self.configured:
            return frozenset(ROLES)
        return self.assignments.get(user, frozenset())


def read_roles(
    path: ConfigPath, value: Any, *, hint: str, action: str | None = None
) -> tuple[str, ...]:
    """The roles listed at ``path`` in a config file, without repeats; with ``action``,
    only roles that may take it are accepted. ConfigError for anything else."""
    if not isinstance(value, list):
        raise path.error(f"expected a list of roles, got {yaml_type(value)}.", hint=hint)
    allowed = roles_allowed(action) if action else ROLES
    for index, role in enumerate(value):
        if role in allowed:
            continue
        if action is not None and role in ROLES:
            problem = f"the role '{role}' may not {ACTIONS[action]}."
        else:
            shown = f"'{role}'" if isinstance(role, str) else yaml_type(role)
            problem = f"{shown} is not a role." + did_you_mean(str(role), ROLES)
        raise path.item(index).error(problem, hint=f"Roles allowed here: {', '.join(allowed)}.")
    return tuple(dict.fromkeys(value))


def check(action: str, *, user: str, users: Users, roles: Sequence[str] | None = None) -> str:
    """The role under which ``user`` may take ``action``, or PermissionDeniedError.

    ``roles``, when given and not empty, narrows the roles that count, e.g. the roles a
    promotion policy accepts approvals from; the first of them the user holds is returned
    (without ``roles``, the first in :data:`ROLES` order). An action not in
    :data:`ACTIONS` is a programming error: ValueError.
    """
    allowed = roles_allowed(action)
    if roles:
        allowed = tuple(role for role in roles if role in allowed)
    held = users.roles_of(user)
    for role in allowed:
        if role in held:
            return role
    holds = f"roles: {', '.join(r for r in ROLES if r in held)}" if held else "no role"
    if not allowed:
        needs = "no role that may take it is accepted here"
    else:
        needs = f"it needs the role {' or '.join(allowed)}"
    raise PermissionDeniedError(
        f"{user} ({holds}) may not {action} ({ACTIONS[action]}); {needs}.",
        hint=_denied_hint(user, users, allowed),
    )


def _denied_hint(user: str, users: Users, allowed: Sequence[str]) -> str:
    if users.configured and user not in users.assignments:
        return (
            f"{user} is not listed under `users` in governance.yml; add them with their "
            "roles, or act as a listed user (SHIPYARD_USER)."
        )
    if not allowed:
        return "Fix the roles named in the policy in governance.yml."
    return PermissionDeniedError.hint

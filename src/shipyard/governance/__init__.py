"""Users, roles and permission checks (docs/registry.md, "Roles and approvals").

The public API is exactly ``__all__``::

    from shipyard.governance import Users, check, current_user

    users = Users.from_config(loader.get("governance"))    # the `users` of governance.yml
    role = check("models.promote", user=current_user(), users=users)  # or PermissionDeniedError

With no ``users`` configured, the local user holds every role (the local embedded mode);
see :mod:`shipyard.governance._roles` for the roles, the actions and who may take them.
"""

from __future__ import annotations

from shipyard.governance._config import GOVERNANCE_KEYS, check_governance
from shipyard.governance._roles import (
    ACTIONS,
    DATA_SCIENTIST,
    GOVERNANCE,
    ML_ENGINEER,
    PERMISSIONS,
    ROLES,
    Users,
    check,
    current_user,
    read_roles,
    roles_allowed,
)

__all__ = [
    "ACTIONS",
    "DATA_SCIENTIST",
    "GOVERNANCE",
    "GOVERNANCE_KEYS",
    "ML_ENGINEER",
    "PERMISSIONS",
    "ROLES",
    "Users",
    "check",
    "check_governance",
    "current_user",
    "read_roles",
    "roles_allowed",
]

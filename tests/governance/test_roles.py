"""Users, roles and the permission check: every role, the local mode, and governance.yml errors."""

from __future__ import annotations

import copy
import getpass
import os
from dataclasses import FrozenInstanceError

import pytest

from shipyard.errors import ConfigError, PermissionDeniedError
from shipyard.governance import (
    ACTIONS,
    DATA_SCIENTIST,
    GOVERNANCE,
    ML_ENGINEER,
    PERMISSIONS,
    ROLES,
    Users,
    check,
    current_user,
    roles_allowed,
)

TEAM = {
    "users": {
        "alice": [DATA_SCIENTIST],
        "bob": [ML_ENGINEER],
        "carol": [GOVERNANCE],
        "dana": [ML_ENGINEER, GOVERNANCE],
        "erin": [],
    }
}

# The table the module docstring documents, spelled out once more so a change shows here.
EXPECTED = {
    DATA_SCIENTIST: {"models.register", "models.tag", "runs.delete"},
    ML_ENGINEER: {
        "models.register",
        "models.promote",
        "models.approve",
        "models.tag",
        "runs.delete",
        "data.gc",
    },
    GOVERNANCE: {"models.approve", "models.trust"},
}
USER_OF = {DATA_SCIENTIST: "alice", ML_ENGINEER: "bob", GOVERNANCE: "carol"}


def test_roles_and_actions_are_the_documented_ones():
    assert ROLES == ("data_scientist", "ml_engineer", "governance")
    assert set(ACTIONS) == {
        "models.register",
        "models.promote",
        "models.approve",
        "models.trust",
        "models.tag",
        "runs.delete",
        "data.gc",
    }
    assert all(ACTIONS[action] for action in ACTIONS)  # every action is described
    assert {role: set(actions) for role, actions in PERMISSIONS.items()} == EXPECTED


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_role_may_take_exactly_its_actions(role, action):
    users = Users.from_config(TEAM)
    user = USER_OF[role]
    if action in EXPECTED[role]:
        assert check(action, user=user, users=users) == role
    else:
        with pytest.raises(PermissionDeniedError) as caught:
            check(action, user=user, users=users)
        message = caught.value.message
        assert message.startswith(f"{user} (roles: {role}) may not {action} ({ACTIONS[action]})")
        assert f"it needs the role {' or '.join(roles_allowed(action))}." in message


def test_denial_names_user_action_roles_and_the_roles_that_would_allow_it():
    users = Users.from_config(TEAM)
    with pytest.raises(PermissionDeniedError) as caught:
        check("models.promote", user="alice", users=users)
    assert caught.value.message == (
        "alice (roles: data_scientist) may not models.promote (move an alias to a model "
        "version); it needs the role ml_engineer."
    )
    assert "governance.yml" in caught.value.hint


def test_a_user_with_several_roles_gets_the_first_role_that_allows_the_action():
    users = Users.from_config(TEAM)
    assert users.roles_of("dana") == frozenset({ML_ENGINEER, GOVERNANCE})
    assert check("models.approve", user="dana", users=users) == ML_ENGINEER
    assert check("models.trust", user="dana", users=users) == GOVERNANCE


def test_roles_restriction_picks_the_policy_role_in_its_order():
    users = Users.from_config(TEAM)
    approvers = [GOVERNANCE, ML_ENGINEER]
    assert check("models.approve", user="dana", users=users, roles=approvers) == GOVERNANCE
    assert check("models.approve", user="bob", users=users, roles=[GOVERNANCE, ML_ENGINEER]) == (
        ML_ENGINEER
    )
    with pytest.raises(PermissionDeniedError) as caught:
        check("models.approve", user="bob", users=users, roles=[GOVERNANCE])
    assert caught.value.message == (
        "bob (roles: ml_engineer) may not models.approve (approve a pending promotion); "
        "it needs the role governance."
    )


def test_roles_restriction_that_no_role_can_meet_says_so():
    users = Users.from_config(TEAM)
    with pytest.raises(PermissionDeniedError) as caught:
        check("models.approve", user="alice", users=users, roles=[DATA_SCIENTIST])
    assert "no role that may take it is accepted here" in caught.value.message
    assert "policy" in caught.value.hint


def test_empty_roles_restriction_means_no_restriction():
    users = Users.from_config(TEAM)
    assert check("models.approve", user="carol", users=users, roles=()) == GOVERNANCE


def test_a_user_not_listed_has_no_role_once_users_are_configured():
    users = Users.from_config(TEAM)
    assert users.configured
    assert users.roles_of("mallory") == frozenset()
    assert users.roles_of("erin") == frozenset()  # listed with no role
    with pytest.raises(PermissionDeniedError) as caught:
        check("models.register", user="mallory", users=users)
    assert caught.value.message.startswith("mallory (no role) may not models.register")
    assert "not listed under `users`" in caught.value.hint
    assert "SHIPYARD_USER" in caught.value.hint


@pytest.mark.parametrize("governance", [None, {}, {"users": None}, {"users": {}}])
def test_without_users_everyone_holds_every_role(governance):
    users = Users.from_config(governance)
    assert not users.configured
    assert users.roles_of("whoever") == frozenset(ROLES)
    for action in ACTIONS:
        assert check(action, user="whoever", users=users) == roles_allowed(action)[0]


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError, match=r"Unknown action 'models\.promot'\. Did you mean"):
        check("models.promot", user="bob", users=Users())


def test_users_are_immutable():
    users = Users.from_config(TEAM)
    with pytest.raises(FrozenInstanceError):
        users.assignments = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        users.assignments["mallory"] = frozenset(ROLES)  # type: ignore[index]


def test_repeated_roles_count_once():
    users = Users.from_config({"users": {"bob": [ML_ENGINEER, ML_ENGINEER]}})
    assert users.roles_of("bob") == frozenset({ML_ENGINEER})


@pytest.mark.parametrize(
    ("governance", "message"),
    [
        ({"user": {"bob": ["ml_engineer"]}}, "conf/base/governance.yml: unknown key 'user'. "
         "Did you mean 'users'?"),
        (["users"], "conf/base/governance.yml: expected a mapping, got a list."),
        ({"users": ["bob"]}, "conf/base/governance.yml, users: expected a mapping, got a list."),
        ({"users": {"bob": "ml_engineer"}},
         "conf/base/governance.yml, users.bob: expected a list of roles, got a string."),
        ({"users": {"bob": ["ml_engineers"]}},
         "conf/base/governance.yml, users.bob[0]: 'ml_engineers' is not a role. "
         "Did you mean 'ml_engineer'?"),
        ({"users": {"bob": [DATA_SCIENTIST, 3]}},
         "conf/base/governance.yml, users.bob[1]: a number is not a role."),
        ({"users": {123: [DATA_SCIENTIST]}},
         "conf/base/governance.yml, users: the key 123 is not a name."),
        ({"intended_use": ["churn"]},
         "conf/base/governance.yml, intended_use: expected text, got a list."),
    ],
)  # fmt: skip
def test_bad_users_config_names_the_file_and_key(governance, message):
    before = copy.deepcopy(governance)
    with pytest.raises(ConfigError) as caught:
        Users.from_config(governance)
    assert caught.value.message == message
    assert caught.value.hint
    assert governance == before  # the caller's config is left as it was


def test_config_errors_name_the_file_the_caller_gives():
    with pytest.raises(ConfigError, match=r"^conf/local/governance\.yml, users\.bob:"):
        Users.from_config({"users": {"bob": None}}, source="conf/local/governance.yml")


def test_current_user_is_shipyard_user_when_set(monkeypatch):
    monkeypatch.setenv("SHIPYARD_USER", " alice ")
    assert current_user() == "alice"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_current_user_falls_back_to_the_login_name(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("SHIPYARD_USER", raising=False)
    else:
        monkeypatch.setenv("SHIPYARD_USER", value)
    assert current_user() == getpass.getuser()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX user ids")
def test_current_user_without_a_login_name_is_the_uid(monkeypatch):
    def no_login_name() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.delenv("SHIPYARD_USER", raising=False)
    monkeypatch.setattr(getpass, "getuser", no_login_name)
    assert current_user() == f"uid-{os.getuid()}"

"""Credentials are resolved for use, and never shown: not in repr, str, or any error."""

from __future__ import annotations

import traceback

import pytest

from shipyard.config import Credentials
from shipyard.errors import CredentialsError, ShipyardError

SECRET = "hunter2-Zq9"


def everything_printed(error: BaseException) -> str:
    """The message, the hint, and the full traceback a --debug run would print."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if isinstance(error, ShipyardError):
        parts.append(error.describe())
    return "\n".join(parts)


def test_values_are_usable_but_never_printed(write, loader, monkeypatch):
    monkeypatch.setenv("SHIPYARD_TEST_DB_PASSWORD", SECRET)
    write(
        "local/credentials.yml",
        """
        db:
          user: analyst
          password: ${oc.env:SHIPYARD_TEST_DB_PASSWORD}
          con: postgresql://analyst:${oc.env:SHIPYARD_TEST_DB_PASSWORD}@db/prod
        s3:
          key: ${.secret}
          secret: plain-secret-value
        """,
    )
    credentials = loader().credentials
    assert credentials["db"]["password"] == SECRET
    assert dict(credentials["db"])["con"] == f"postgresql://analyst:{SECRET}@db/prod"
    assert credentials["s3"]["key"] == "plain-secret-value"
    assert sorted(credentials) == ["db", "s3"]

    shown = [
        repr(credentials),
        str(credentials),
        f"{credentials}",
        repr(credentials["db"]),
        str(credentials["db"]),
        f"{credentials['s3']}",
    ]
    for text in shown:
        assert SECRET not in text
        assert "plain-secret-value" not in text
    assert repr(credentials) == "Credentials(db=***, s3=***)"
    assert repr(credentials["db"]) == "Credentials['db'](user=***, password=***, con=***)"


def test_require_names_the_entry_and_who_needs_it(write, loader):
    write("local/credentials.yml", f"dbs:\n  password: {SECRET}\n")
    with pytest.raises(CredentialsError) as info:
        loader().credentials.require("db", used_by="dataset 'customers'")
    assert info.value.message.startswith(
        "Credentials 'db' needed by dataset 'customers' are not defined in conf/base or "
        "conf/local credentials*.yml."
    )
    assert "Did you mean 'dbs'?" in info.value.message
    assert "conf/local/credentials.yml" in info.value.hint
    assert "${oc.env:DB_PASSWORD}" in info.value.hint
    assert SECRET not in everything_printed(info.value)


def test_require_returns_the_entry(write, loader):
    write("base/credentials.yml", "db:\n  user: a\n")
    write("local/credentials.yml", f"db:\n  password: {SECRET}\n")
    entry = loader().credentials.require("db", used_by="dataset 'customers'")
    assert dict(entry) == {"user": "a", "password": SECRET}


def test_a_missing_env_variable_names_entry_and_variable_only(write, loader, monkeypatch):
    monkeypatch.delenv("SHIPYARD_TEST_UNSET", raising=False)
    write(
        "local/credentials.yml",
        f"""
        db:
          user: {SECRET}
          password: ${{oc.env:SHIPYARD_TEST_UNSET}}
        """,
    )
    with pytest.raises(CredentialsError) as info:
        _ = loader().credentials
    assert "Credentials entry 'db'" in info.value.message
    assert "'SHIPYARD_TEST_UNSET', which is not set" in info.value.message
    assert "export SHIPYARD_TEST_UNSET=" in info.value.hint
    assert SECRET not in everything_printed(info.value)


def test_broken_interpolation_in_a_secret_is_not_quoted(write, loader):
    secret_with_brace = f"{SECRET}${{oops"
    write("local/credentials.yml", f"db:\n  password: '{secret_with_brace}'\n")
    with pytest.raises(CredentialsError) as info:
        _ = loader().credentials
    assert "Credentials entry 'db' in conf/local/credentials.yml" in info.value.message
    assert "'db.password'" in info.value.message
    assert "not shown because it may hold a secret" in info.value.hint
    assert SECRET not in everything_printed(info.value)


def test_undefined_references_in_credentials(write, loader):
    write("base/credentials.yml", f"db:\n  user: {SECRET}\n  password: ${{globals:db_pw}}\n")
    with pytest.raises(CredentialsError) as info:
        _ = loader().credentials
    assert "${globals:db_pw} is not defined" in info.value.message
    assert SECRET not in everything_printed(info.value)
    write("base/credentials.yml", f"db:\n  user: {SECRET}\n  password: ${{db.pw}}\n")
    with pytest.raises(CredentialsError) as info:
        _ = loader().credentials
    assert "refers to '${db.pw}', which is not defined" in info.value.message
    assert SECRET not in everything_printed(info.value)


def test_malformed_credentials_yaml_does_not_show_the_line(write, loader):
    write("local/credentials.yml", f'db:\n  password: "{SECRET}\n')
    with pytest.raises(ShipyardError) as info:
        _ = loader().credentials
    assert "conf/local/credentials.yml, line" in info.value.message
    assert SECRET not in everything_printed(info.value)


def test_an_entry_must_be_a_mapping(write, loader):
    write("local/credentials.yml", f"api_token: {SECRET}\n")
    with pytest.raises(CredentialsError) as info:
        _ = loader().credentials
    assert "'api_token' must be a mapping" in info.value.message
    assert "not a str" in info.value.message
    assert "api_token:\n    token:" in info.value.hint
    assert SECRET not in everything_printed(info.value)


def test_credentials_built_directly():
    credentials = Credentials({"db": {"password": SECRET}})
    assert repr(credentials) == "Credentials(db=***)"
    assert credentials == {"db": {"password": SECRET}}
    with pytest.raises(CredentialsError) as info:
        credentials.require("s3", used_by="dataset 'raw'")
    assert "are not defined in any credentials*.yml" in info.value.message
    assert SECRET not in everything_printed(info.value)
    with pytest.raises(KeyError):
        credentials["s3"]
    assert repr(Credentials()) == "Credentials()"


def test_the_entry_does_not_change_when_the_source_does():
    source = {"db": {"password": SECRET, "options": {"ssl": True}}}
    credentials = Credentials(source)
    source["db"]["options"]["ssl"] = False
    assert credentials["db"]["options"] == {"ssl": True}

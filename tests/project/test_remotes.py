"""Remotes from conf/*/remotes.yml: parsing, choosing one, credentials, and bad entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.conftest import BUCKET

from shipyard.config import ConfigLoader
from shipyard.errors import ConfigError, CredentialsError
from shipyard.objects import ObjectStore, transfer
from shipyard.project import Remote, load_remotes, remote_store, select_remote


def make_config(root: Path, remotes: object, credentials: dict | None = None) -> ConfigLoader:
    base = root / "conf/base"
    base.mkdir(parents=True, exist_ok=True)
    (root / "conf/local").mkdir(exist_ok=True)
    if remotes is not None:
        (base / "remotes.yml").write_text(yaml.safe_dump(remotes))
    if credentials is not None:
        (root / "conf/local/credentials.yml").write_text(yaml.safe_dump(credentials))
    return ConfigLoader(root / "conf", "local")


def test_entries_parse_with_defaults_and_relative_folders_resolve(tmp_path):
    config = make_config(
        tmp_path,
        {
            "team": {"url": "../shared/store", "jobs": 3, "default": True},
            "backup": {"url": "s3://bucket/prefix", "credentials": "aws"},
            "nas": {"url": "file:///mnt/nas/shipyard"},
        },
    )
    remotes = load_remotes(config, project_root=tmp_path)
    assert remotes["team"] == Remote("team", str(tmp_path.parent / "shared/store"), None, 3, True)
    assert remotes["backup"].url == "s3://bucket/prefix"
    assert remotes["backup"].credentials == "aws" and remotes["backup"].jobs == 8
    assert remotes["nas"].url == "file:///mnt/nas/shipyard"
    assert select_remote(remotes).name == "team"
    assert select_remote(remotes, "backup").name == "backup"


def test_a_single_remote_is_the_default_and_a_folder_store_works(tmp_path):
    config = make_config(tmp_path, {"only": {"url": "remote-objects"}})
    store = remote_store(config, project_root=tmp_path)
    info = store.put_bytes(b"hello")
    assert (tmp_path / "remote-objects" / info.digest.key).read_bytes() == b"hello"


def test_unknown_remote_lists_the_configured_ones(tmp_path):
    config = make_config(tmp_path, {"team": {"url": "/tmp/x"}, "backup": {"url": "/tmp/y"}})
    with pytest.raises(ConfigError) as caught:
        remote_store(config, "tema", project_root=tmp_path)
    assert "Remote 'tema' is not configured" in caught.value.message
    assert "team" in caught.value.message  # did you mean
    assert "backup, team" in caught.value.hint


def test_several_remotes_without_a_default_ask_for_one(tmp_path):
    config = make_config(tmp_path, {"team": {"url": "/tmp/x"}, "backup": {"url": "/tmp/y"}})
    with pytest.raises(ConfigError, match="none is the default") as caught:
        remote_store(config, project_root=tmp_path)
    assert "--remote" in caught.value.hint


def test_no_remotes_shows_an_example(tmp_path):
    config = make_config(tmp_path, None)
    with pytest.raises(ConfigError, match="No remotes are configured") as caught:
        remote_store(config, project_root=tmp_path)
    assert "remotes.yml" in caught.value.hint and "url: s3://" in caught.value.hint


def test_unknown_keys_name_the_file_entry_and_allowed_keys(tmp_path):
    config = make_config(tmp_path, {"team": {"url": "/tmp/x", "job": 4}})
    with pytest.raises(ConfigError) as caught:
        load_remotes(config, project_root=tmp_path)
    message = caught.value.message
    assert "Remote 'team' in conf/base/remotes.yml" in message and "job" in message
    assert "Allowed keys: url, credentials, jobs, default, storage_options" in caught.value.hint


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"jobs": 2}, "has no url"),
        ({"url": "/x", "jobs": 0}, "'jobs' must be an int >= 1"),
        ({"url": "/x", "default": "yes"}, "'default' must be true or false"),
        ("s3://bucket", "must be a mapping"),
    ],
)
def test_bad_entries_are_refused(tmp_path, entry, problem):
    config = make_config(tmp_path, {"team": entry})
    with pytest.raises(ConfigError, match=problem):
        load_remotes(config, project_root=tmp_path)


def test_missing_credentials_name_the_remote_never_values(tmp_path):
    config = make_config(
        tmp_path, {"team": {"url": "s3://b/p", "credentials": "aws"}}, {"other": {"key": "s3cr3t"}}
    )
    with pytest.raises(CredentialsError) as caught:
        remote_store(config, project_root=tmp_path)
    assert "remote 'team'" in caught.value.message
    assert "s3cr3t" not in caught.value.describe()


def test_s3_remote_gets_its_credentials_as_storage_options(tmp_path, s3_endpoint):
    config = make_config(
        tmp_path,
        {"team": {"url": f"s3://{BUCKET}/remote-test", "credentials": "aws"}},
        {"aws": {"key": "testing", "secret": "testing", "endpoint_url": s3_endpoint}},
    )
    remote = remote_store(config, project_root=tmp_path)
    local = ObjectStore(tmp_path / "local-objects")
    digest = local.put_bytes(b"to the team bucket").digest
    assert transfer(local, remote, [digest]).check().copied == 1
    assert remote.read_bytes(digest) == b"to the team bucket"
    assert repr(remote) == f"ObjectStore('s3://{BUCKET}/remote-test')"  # no secrets

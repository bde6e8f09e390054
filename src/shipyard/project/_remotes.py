"""Remotes: named object stores in ``conf/*/remotes.yml`` that push, pull and fetch use.

```yaml
# conf/base/remotes.yml
team:
  url: s3://team-bucket/shipyard     # or /abs/folder, ../relative/folder, file://...
  credentials: team_s3               # an entry of credentials.yml, passed to fsspec
  jobs: 8                            # objects moved at once (default 8)
  default: true                      # used when --remote is not given
```

>>> store = remote_store(session.config, project_root=session.settings.project_root)
... # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.config import ConfigLoader
from shipyard.errors import ConfigError, did_you_mean
from shipyard.objects import ObjectStore

__all__ = ["Remote", "load_remotes", "remote_store", "select_remote"]

DEFAULT_JOBS = 8
_KEYS = ("url", "credentials", "jobs", "default", "storage_options")
_EXAMPLE = (
    "Add conf/base/remotes.yml, e.g.\n"
    "  team:\n"
    "    url: s3://team-bucket/shipyard   # or a folder: /mnt/shared/shipyard\n"
    "    credentials: team_s3            # optional, an entry of credentials.yml\n"
    "    default: true"
)


@dataclass(frozen=True, slots=True)
class Remote:
    """One configured remote. ``url`` is absolute (a relative folder is resolved against
    the project root); ``credentials`` names an entry of credentials.yml."""

    name: str
    url: str
    credentials: str | None = None
    jobs: int = DEFAULT_JOBS
    default: bool = False
    storage_options: Mapping[str, Any] = field(default_factory=dict)

    def store(self, config: ConfigLoader) -> ObjectStore:
        """The remote's object store, its credentials resolved into storage options."""
        options = dict(self.storage_options)
        if self.credentials is not None:
            used_by = f"remote '{self.name}'"
            options.update(config.credentials.require(self.credentials, used_by=used_by))
        return ObjectStore(self.url, storage_options=options or None)


def load_remotes(config: ConfigLoader, *, project_root: Path) -> dict[str, Remote]:
    """Every remote in ``remotes*.yml``, by name; bad entries are a :class:`ConfigError`."""
    raw = config.get("remotes")
    return {
        str(name): _parse(str(name), entry, config, project_root) for name, entry in raw.items()
    }


def select_remote(remotes: Mapping[str, Remote], name: str | None = None) -> Remote:
    """The remote called ``name``, or the default one (the only one, or ``default: true``)."""
    if not remotes:
        raise ConfigError("No remotes are configured (no remotes*.yml in conf/).", hint=_EXAMPLE)
    known = ", ".join(sorted(remotes))
    if name is not None:
        if name not in remotes:
            raise ConfigError(
                f"Remote '{name}' is not configured." + did_you_mean(name, remotes),
                hint=f"Configured remotes: {known}. Add it to conf/base/remotes.yml.",
            )
        return remotes[name]
    defaults = [remote for remote in remotes.values() if remote.default]
    if len(defaults) > 1:
        raise ConfigError(
            f"Remotes {', '.join(r.name for r in defaults)} are all marked default: true.",
            hint="Keep `default: true` on one remote only, or pass --remote NAME.",
        )
    if defaults:
        return defaults[0]
    if len(remotes) == 1:
        return next(iter(remotes.values()))
    raise ConfigError(
        f"Several remotes are configured ({known}) and none is the default.",
        hint="Pass --remote NAME, or add `default: true` to one of them in remotes.yml.",
    )


def remote_store(
    config: ConfigLoader, name: str | None = None, *, project_root: Path
) -> ObjectStore:
    """The object store of remote ``name`` (or of the default remote)."""
    remotes = load_remotes(config, project_root=project_root)
    return select_remote(remotes, name).store(config)


def _parse(name: str, entry: Any, config: ConfigLoader, project_root: Path) -> Remote:
    origin = config.origin("remotes", name)
    where = f"Remote '{name}' in {origin}"
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"{where} must be a mapping with a url, not {type(entry).__name__}.", hint=_EXAMPLE
        )
    unknown = sorted(set(map(str, entry)) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s): {', '.join(unknown)}." + did_you_mean(unknown[0], _KEYS),
            hint=f"Allowed keys: {', '.join(_KEYS)}.",
        )
    url = entry.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{where} has no url.", hint=_EXAMPLE)
    credentials = entry.get("credentials")
    jobs = entry.get("jobs", DEFAULT_JOBS)
    options = entry.get("storage_options", {})
    problems = [
        (credentials is not None and not isinstance(credentials, str), "credentials", "a name"),
        (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1, "jobs", "an int >= 1"),
        (not isinstance(entry.get("default", False), bool), "default", "true or false"),
        (not isinstance(options, Mapping), "storage_options", "a mapping"),
    ]
    for failed, key, expected in problems:
        if failed:
            raise ConfigError(
                f"{where}: '{key}' must be {expected}, not {entry[key]!r}.", hint=_EXAMPLE
            )
    return Remote(
        name, _absolute(url.strip(), project_root), credentials, jobs,
        bool(entry.get("default", False)), dict(options),
    )  # fmt: skip


def _absolute(url: str, project_root: Path) -> str:
    if "://" in url:
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else (project_root / path).resolve())

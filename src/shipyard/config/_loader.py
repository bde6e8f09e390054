"""The ConfigLoader: conf/base and conf/<env> layered, resolved once per kind, then cached."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.config._credentials import Credentials
from shipyard.config._files import Layered, check_kind, load_layers
from shipyard.config._interpolation import resolve
from shipyard.config._params import apply_params_overrides
from shipyard.config._resolution_errors import Source
from shipyard.config._tree import copy_tree
from shipyard.errors import ConfigError, did_you_mean

__all__ = ["ConfigLoader"]


class ConfigLoader:
    """Reads one project's configuration: ``conf/base`` first, then ``conf/<env>`` over it.

    Each kind (``catalog``, ``parameters``, ...) comes from ``<kind>*.yml`` files and a
    ``<kind>/`` folder in each env folder. Mappings merge key by key; other values from
    the env replace those from base. ``${...}`` interpolation is resolved once per kind and
    the result is cached; every ``get`` returns a fresh copy, so callers may modify it.

    >>> loader = ConfigLoader(Path("conf"), env="prod")  # doctest: +SKIP
    >>> loader.get("parameters")["model"]  # doctest: +SKIP
    {'C': 0.5, 'penalty': 'l2'}
    >>> loader.origin("catalog", "companies")  # doctest: +SKIP
    'conf/base/catalog.yml'
    """

    def __init__(
        self,
        conf_source: Path | str,
        env: str = "local",
        *,
        base_env: str = "base",
        runtime_params: Mapping[str, Any] | None = None,
        allow_new_params: bool = False,
    ) -> None:
        """Check the folders exist; nothing is read until a kind is asked for.

        ``runtime_params`` (nested, or with dotted keys) override ``parameters``; a key
        that the parameter files do not define is a ParamsError unless
        ``allow_new_params`` is true.
        """
        self._conf_source = Path(conf_source).absolute()
        self._env = env
        self._folders = _env_folders(self._conf_source, base_env, env)
        self._runtime_params = copy_tree(dict(runtime_params or {}))
        self._allow_new_params = allow_new_params
        self._layers: dict[str, Layered] = {}
        self._resolved: dict[str, dict[Any, Any]] = {}
        self._credentials: Credentials | None = None
        self._lock = threading.RLock()

    @property
    def conf_source(self) -> Path:
        """The absolute path of the folder holding ``base`` and the env folders."""
        return self._conf_source

    @property
    def env(self) -> str:
        """The run environment layered over base."""
        return self._env

    def __repr__(self) -> str:
        return f"ConfigLoader(conf_source={str(self._conf_source)!r}, env={self._env!r})"

    def get(self, kind: str) -> dict[str, Any]:
        """The merged, resolved config of ``kind``; ``{}`` when no file provides it.

        ``get("parameters")`` includes the runtime overrides, like :attr:`parameters`.
        """
        return copy_tree(self._resolve(kind))

    def origin(self, kind: str, key: str) -> str:
        """The project-relative path of the file that defined top-level ``key`` last.

        >>> loader.origin("catalog", "companies")  # doctest: +SKIP
        'conf/local/catalog.yml'
        """
        layered = self._layered(kind)
        if key in layered.origins:
            return layered.origins[key]
        read = ", ".join(layered.files) or f"none (no {kind}*.yml file exists)"
        raise ConfigError(
            f"No {kind} file defines the top-level key '{key}'."
            + did_you_mean(key, map(str, layered.origins)),
            hint=f"Files read for {kind}: {read}.",
        )

    @property
    def catalog(self) -> dict[str, dict[str, Any]]:
        """``get("catalog")`` without the keys starting with "_" (YAML anchor holders)."""
        return {
            key: entry for key, entry in self.get("catalog").items() if not str(key).startswith("_")
        }

    @property
    def parameters(self) -> dict[str, Any]:
        """The merged parameters with the runtime overrides applied before interpolation,
        so a value derived with ``${...}`` follows an overridden one."""
        return self.get("parameters")

    @property
    def credentials(self) -> Credentials:
        """The resolved credentials; printing them shows entry names only."""
        with self._lock:
            if self._credentials is None:
                self._credentials = Credentials(
                    self._resolve("credentials"), searched=[self._display(f) for f in self._folders]
                )
            return self._credentials

    def logging_config(self) -> dict[str, Any] | None:
        """The merged ``logging*.yml`` (a ``logging.config.dictConfig`` mapping), or ``None``
        when the project has no logging file."""
        if not self._layered("logging").files:
            return None
        return self.get("logging")

    def _display(self, path: Path) -> str:
        return path.relative_to(self._conf_source.parent).as_posix()

    def _layered(self, kind: str) -> Layered:
        with self._lock:
            layered = self._layers.get(kind)
            if layered is None:
                check_kind(kind)
                layered = load_layers(
                    self._folders,
                    kind,
                    display_root=self._conf_source.parent,
                    secret=kind == "credentials",
                )
                self._layers[kind] = layered
            return layered

    def _resolve(self, kind: str) -> dict[Any, Any]:
        with self._lock:
            resolved = self._resolved.get(kind)
            if resolved is None:
                resolved = self._load(kind)
                self._resolved[kind] = resolved
            return resolved

    def _load(self, kind: str) -> dict[Any, Any]:
        layered = self._layered(kind)
        data = layered.data
        overridden = kind == "parameters" and bool(self._runtime_params)
        if overridden:
            data = apply_params_overrides(
                data, self._runtime_params, allow_new=self._allow_new_params
            )
        if not (layered.interpolated or overridden):
            return data
        source = Source(kind, layered.origins, secret=kind == "credentials")
        globals_ = None if kind == "globals" else lambda: self._resolve("globals")
        return resolve(data, source, globals_=globals_)


def _env_folders(conf_source: Path, base_env: str, env: str) -> tuple[Path, Path]:
    base = conf_source / base_env
    if not base.is_dir():
        raise ConfigError(
            f"The configuration folder {base} does not exist.",
            hint=f"Run the command inside the project, or create {base_env}/ under "
            f"{conf_source} (`shipyard new` creates conf/base for you).",
        )
    if env == base_env:
        raise ConfigError(
            f"The run environment cannot be '{base_env}': conf/{base_env} is always read "
            "first and the run environment is layered over it.",
            hint="Use --env local (the default) or another folder under conf/, and check that "
            "SHIPYARD_ENV is not set to it.",
        )
    existing = sorted(
        child.name
        for child in conf_source.iterdir()
        if child.is_dir() and not child.name.startswith(".") and child.name != base_env
    )
    if env not in existing:
        shown = ", ".join(existing) or f"none besides {base_env}"
        raise ConfigError(
            f"Environment '{env}' does not exist: there is no folder {conf_source / env}."
            + did_you_mean(env, existing),
            hint=f"Environments in {conf_source}: {shown}. Pick one with --env or SHIPYARD_ENV, "
            f"or create the folder {env}/ there.",
        )
    return base, conf_source / env

"""Every error Shipyard raises on purpose, with a hint that tells the user what to do.

The tree::

    ShipyardError                  message + hint; the CLI prints both, no traceback
    ├── ConfigError                a configuration file or value is wrong
    │   ├── CredentialsError       a credentials entry or key is missing (never shows secrets)
    │   └── ParamsError            a --params override names an unknown or malformed parameter
    ├── DatasetError               a dataset cannot be built, loaded or saved
    │   ├── DatasetNotFoundError   a name that no catalog entry or pattern provides
    │   ├── UnsafeDataError        a pickle (or other code-carrying file) not marked trusted
    │   ├── VersionNotFoundError   a dataset version id, prefix or tag that is not recorded
    │   └── PathOutsideProjectError  a dataset path that leaves the project folder
    ├── PipelineError              a pipeline is malformed or does not exist
    │   ├── CircularDependencyError  nodes depend on each other in a cycle
    │   └── PipelineNotFoundError  a pipeline name the project does not define
    ├── NodeError                  a node's own code raised while it ran
    ├── RunnerError                a run cannot proceed (unpicklable data, interrupted, ...)
    ├── ProjectError               no project here, or a project cannot be created
    ├── ObjectStoreError           the object store cannot read or write an object
    │   ├── ObjectNotFoundError    a digest the store does not hold
    │   ├── CorruptObjectError     an object's bytes no longer match its digest
    │   ├── UnsafePathError        a tree path or symlink that would leave its folder
    │   └── RemoteError            a remote store cannot be reached or refused a transfer
    ├── MetadataError              the metadata store cannot be opened, migrated or queried
    │   ├── ParamConflictError     a run's param logged again with a different value
    │   └── RunNotFoundError       a run id or prefix that matches no run (or several)
    ├── TrackingError              a logging call with no active run, or a bad metric value
    ├── ModelError                 a model package or registry operation cannot proceed
    │   ├── ModelNotFoundError     a model name, version or alias the registry does not hold
    │   ├── ModelIntegrityError    a package file changed after it was written (digest mismatch)
    │   ├── UnsafeModelError       content that would run code when loaded, or types not allowed
    │   ├── SignatureError         data that does not match a model's input signature
    │   └── PromotionError         a promotion refused by its gates or waiting for approval
    ├── MonitoringError            a window, profile, policy or action of monitoring cannot proceed
    │   └── UnsafeUrlError         a webhook URL refused (scheme, or a private/metadata address)
    ├── DeployError                an image cannot be built, or a deployment cannot be written
    ├── LabError                   a notebook or an environment of the lab cannot proceed
    │   ├── NotebookError          a notebook cell failed or timed out (the cell is named)
    │   └── EnvironmentSpecError   an environment cannot be exported, read or recreated
    ├── PermissionDeniedError      the user's roles do not allow the action
    └── MissingDependencyError     an optional extra is not installed

Errors carry no HTTP status codes: those belong to the serving and server layers,
which map error types to codes at their boundary.

>>> err = DatasetError("Dataset 'customers' could not be loaded.", hint="Check the path.")
>>> print(err.describe())
Dataset 'customers' could not be loaded.
hint: Check the path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CircularDependencyError",
    "ConfigError",
    "CorruptObjectError",
    "CredentialsError",
    "DatasetError",
    "DatasetNotFoundError",
    "DeployError",
    "EnvironmentSpecError",
    "LabError",
    "MetadataError",
    "MissingDependencyError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "MonitoringError",
    "NodeError",
    "NotebookError",
    "ObjectNotFoundError",
    "ObjectStoreError",
    "ParamConflictError",
    "ParamsError",
    "PathOutsideProjectError",
    "PermissionDeniedError",
    "PipelineError",
    "PipelineNotFoundError",
    "ProjectError",
    "PromotionError",
    "RemoteError",
    "RunNotFoundError",
    "RunnerError",
    "ShipyardError",
    "SignatureError",
    "TrackingError",
    "UnsafeDataError",
    "UnsafeModelError",
    "UnsafePathError",
    "UnsafeUrlError",
    "VersionNotFoundError",
    "did_you_mean",
]


class ShipyardError(Exception):
    """Base of every error Shipyard raises on purpose.

    ``message`` says what went wrong and names the thing it went wrong with;
    ``hint`` says what the user can do about it. Subclasses set a default hint
    that a raise site may replace with a more specific one.
    """

    hint: str = "Run the command again with --debug to see the full traceback."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def describe(self) -> str:
        """The message and the hint, as the CLI prints them."""
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message


class ConfigError(ShipyardError):
    """A configuration file or value is wrong."""

    hint = "Fix the file named in the message; `shipyard info` shows which conf folders are read."


class CredentialsError(ConfigError):
    """A credentials entry or key is missing. Never includes a secret value."""

    hint = (
        "Add the entry to conf/local/credentials.yml (git-ignored) or set it through "
        "${oc.env:VAR} interpolation."
    )


class ParamsError(ConfigError):
    """A ``--params`` override is malformed or names an unknown parameter."""

    hint = "Use --params 'key.sub=value,other=value' with keys from conf/*/parameters*.yml."


class DatasetError(ShipyardError):
    """A dataset cannot be built, loaded or saved."""

    hint = "Check the dataset's entry in conf/*/catalog*.yml; `shipyard catalog describe NAME`."


class DatasetNotFoundError(DatasetError):
    """A dataset name that no catalog entry, pattern or node provides."""

    hint = "Add an entry to conf/base/catalog.yml or fix the name; `shipyard catalog list`."


class UnsafeDataError(DatasetError):
    """A file that can execute code when loaded (pickle) is not marked trusted."""

    hint = (
        "Loading a pickle runs code from the file. If you made the file yourself, "
        "set `trusted: true` on its catalog entry; otherwise use parquet or csv."
    )


class VersionNotFoundError(DatasetError):
    """A version id, id prefix or tag that no recorded version of the dataset matches."""

    hint = "List the recorded versions and tags with `shipyard data versions NAME`."


class PathOutsideProjectError(DatasetError):
    """A dataset path leaves the project folder."""

    hint = (
        "Keep data paths inside the project, or set `allow_outside_project: true` "
        "on the catalog entry if the location is intended."
    )


class PipelineError(ShipyardError):
    """A pipeline or node definition is malformed."""

    hint = "Fix the pipeline definition named in the message; `shipyard pipeline show NAME`."


class CircularDependencyError(PipelineError):
    """Nodes depend on each other in a cycle."""

    hint = "Break the cycle: one of the datasets in it must come from outside the pipeline."


class PipelineNotFoundError(PipelineError):
    """A pipeline name the project does not define."""

    hint = "Run `shipyard pipeline list` to see the pipelines this project defines."


class NodeError(ShipyardError):
    """A node's own code raised while it ran. The original exception is ``__cause__``."""

    hint = "Fix the node, then resume with `shipyard run --from-nodes NODE`."

    def __init__(self, message: str, *, node: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.node = node


class RunnerError(ShipyardError):
    """A run cannot proceed for a reason outside any single node's code."""

    hint = "Try `--runner sequential`, which keeps every dataset in one process."


class ProjectError(ShipyardError):
    """No project where one is needed, or a project cannot be created."""

    hint = "Run the command inside a project folder, or create one with `shipyard new NAME`."


class ObjectStoreError(ShipyardError):
    """The object store cannot read or write an object (disk full, permissions, bad digest)."""

    hint = "Check that the store's folder or bucket is reachable and writable, then run again."


class ObjectNotFoundError(ObjectStoreError):
    """A digest the store does not hold."""

    hint = (
        "Check the digest; fetch the object from a remote (`shipyard data pull`) or have it "
        "stored again, e.g. by saving its dataset."
    )


class CorruptObjectError(ObjectStoreError):
    """An object's bytes no longer match its digest. It is never used or repaired silently."""

    hint = (
        "Delete the corrupt object file, then fetch it again (`shipyard data pull`) or store "
        "the original data again; `shipyard data verify` lists every corrupt object."
    )


class UnsafePathError(ObjectStoreError):
    """A tree path or symlink that would read or write outside its folder."""

    hint = (
        "Paths in a tree must be relative, use '/' and stay inside the folder (no '..', "
        "no absolute or drive paths, no symlinks pointing outside). Fix or remove the file."
    )


class RemoteError(ObjectStoreError):
    """A remote store cannot be reached or refused a transfer."""

    hint = "Check the remote's URL and credentials and that it is reachable, then run again."


class MetadataError(ShipyardError):
    """The metadata store (runs, params, metrics, lineage) cannot be opened, migrated or queried."""

    hint = (
        "Check the store's URL (SHIPYARD_DB, default .shipyard/shipyard.db) and that it is "
        "reachable; `shipyard db status` shows its schema revision."
    )


class ParamConflictError(MetadataError):
    """A run's parameter was logged again with a different value. Params are immutable."""

    hint = (
        "A run's parameters never change once logged: log the new value under another key, "
        "or start a new run for the new value."
    )


class RunNotFoundError(MetadataError):
    """A run id or id prefix that matches no recorded run, or more than one."""

    hint = "List the recorded runs with `shipyard runs list`; a prefix needs at least 4 characters."


class TrackingError(ShipyardError):
    """A logging call that cannot be recorded: no active run, or a value that is not one."""

    hint = (
        "Log inside `with shipyard.start_run():` or inside a node of a pipeline run "
        "(docs/tracking.md)."
    )


class ModelError(ShipyardError):
    """A model package or a registry operation cannot proceed."""

    hint = "`shipyard models list` shows the registered models; docs/registry.md explains them."


class ModelNotFoundError(ModelError):
    """A model name, version or alias that the registry does not hold."""

    hint = (
        "List models with `shipyard models list` and a model's versions with "
        "`shipyard models versions NAME`."
    )


class ModelIntegrityError(ModelError):
    """A file of a model package no longer matches the digest recorded when it was written."""

    hint = (
        "Do not load this package: it was changed after it was written. Restore it from the "
        "object store (`shipyard data verify`) or register the model again from its run."
    )


class UnsafeModelError(ModelError):
    """Model content that would run code when loaded (a pickle), or types outside the
    allow-list, refused unless explicitly trusted."""

    hint = (
        "Load only models you trust: pass trusted=True (or `--trusted`) for a package you "
        "made yourself, or have a governance officer mark the version trusted."
    )


class SignatureError(ModelError):
    """Data whose columns or types do not match a model's input signature."""

    hint = "`shipyard models show NAME` prints the signature the model expects."


class PromotionError(ModelError):
    """A promotion that its gates refused, or that waits for approvals."""

    hint = "`shipyard models show NAME` lists pending requests and the gates' results."


class MonitoringError(ShipyardError):
    """A monitoring window, reference profile, policy or action cannot proceed."""

    hint = "docs/monitoring.md explains profiles, windows and monitoring.yml."


class UnsafeUrlError(MonitoringError):
    """A webhook URL that is not http(s), or that points at a link-local, private or
    cloud-metadata address the policy does not allow."""

    hint = (
        "Use an http(s) URL of a public host, or set allow_private_addresses: true on the "
        "alert in conf/base/monitoring.yml if the address is yours."
    )


class DeployError(ShipyardError):
    """An image (or the Shipyard wheel it needs) cannot be built, or a deployment's files
    cannot be written."""

    hint = (
        "Read the last lines above; the build context's README.md shows how to build it "
        "by hand with `docker build`."
    )


class LabError(ShipyardError):
    """A notebook or an environment of the lab cannot proceed."""

    hint = "docs/lab.md explains notebooks, notebook nodes and environments."


class NotebookError(LabError):
    """A notebook could not be run to its end: a cell raised, timed out or killed its
    kernel, or the notebook cannot be read. ``cell`` is the failing cell's number (1-based,
    every cell counted), ``traceback`` the kernel's traceback as plain text, ``output``
    the executed notebook written with the error (or None), ``run_id`` the tracked run."""

    hint = "Open the notebook in Jupyter, fix the cell named above, then run it again."

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        cell: int | None = None,
        exception_type: str | None = None,
        exception_message: str | None = None,
        traceback: str = "",
        output: Path | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.cell = cell
        self.exception_type = exception_type
        self.exception_message = exception_message
        self.traceback = traceback
        self.output = output
        self.run_id = run_id


class EnvironmentSpecError(LabError):
    """An environment file cannot be read, an environment cannot be exported, or one
    cannot be recreated (a package that cannot be resolved, a name already taken)."""

    hint = "docs/lab.md (Environments) shows export, check and create."


class PermissionDeniedError(ShipyardError):
    """The user's roles do not allow the action."""

    hint = (
        "Ask someone whose role allows it, or a governance officer to grant you the role "
        "(users and roles: conf/base/governance.yml)."
    )


class MissingDependencyError(ShipyardError):
    """An optional dependency is not installed; the hint names the extra."""

    def __init__(self, package: str, extra: str, *, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed.",
            hint=f'Install it with: pip install "shipyard[{extra}]"',
        )
        self.package = package
        self.extra = extra


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``" Did you mean 'x'?"`` suffix for the closest choice, or ``""``.

    >>> did_you_mean("filepth", ["filepath", "load_args"])
    " Did you mean 'filepath'?"
    """
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{matches[0]}'?" if matches else ""

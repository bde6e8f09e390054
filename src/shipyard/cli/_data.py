"""``shipyard data ...``: versions of versioned datasets, the working copies against them
(status, checkout, add), tags, integrity, remotes and gc."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import EnvOption, JsonOption, QuietOption, command_group
from shipyard.cli._output import emit_json, print_table, say

if TYPE_CHECKING:
    from shipyard.data import WorkingState
    from shipyard.objects import DataVersion, Digest, ObjectStore, TransferReport
    from shipyard.project import Remote, Session

__all__ = ["app"]

app = command_group(
    "Versioned datasets (versioned: true): what changed in the working copies (status), "
    "going back to a version (checkout), recording one by hand (add), and versions, tags, "
    "verify, push, pull, fetch, gc."
)

DatasetArgument = Annotated[str, typer.Argument(help="A dataset with versioned: true.")]
DatasetsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[NAME]...",
        help="Versioned datasets to act on. Default: every versioned dataset.",
        show_default=False,
    ),
]
RemoteOption = Annotated[
    str | None,
    typer.Option(
        "--remote", "-r", help="A remote of conf/*/remotes.yml. Default: the default one."
    ),
]
JobsOption = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Objects moved at once. Default: the remote's jobs."),
]
VerifyOption = Annotated[
    bool, typer.Option("--verify", help="Re-hash every object as it arrives; keep no mismatch.")
]


@app.command("versions")
def versions(name: DatasetArgument, env: EnvOption = None, as_json: JsonOption = False) -> None:
    """List a dataset's versions, newest first: id, created, size, digest, run, tags."""
    session = _open(env)
    found = session.versioning.index.versions(_versioned(session, name))
    if as_json:
        emit_json("versions", [version.to_dict() for version in found])
        return
    print_table(
        f"Versions of '{name}', newest first",
        ["id", "created (UTC)", "size", "digest", "run", "tags"],
        [
            (
                version.id,
                version.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                format_size(version.size),
                str(version.digest)[:19] + "…",
                version.run_id or "",
                ", ".join(version.tags),
            )
            for version in found
        ],
    )


@app.command("status")
def status(
    names: DatasetsArgument = None, env: EnvOption = None, as_json: JsonOption = False
) -> None:
    """Show the versioned datasets whose working copy differs from their latest version.

    States: modified (edited, or an older version checked out), new (no version recorded
    yet), missing (deleted, or not pulled), empty (neither data nor versions). Unchanged
    files are not hashed again (stat cache). The exit code is 0 whatever the states are;
    scripts read the states from --json.
    """
    session = _open(env)
    states = [session.catalog.get(name).status() for name in _chosen(session, names)]
    if as_json:
        emit_json("status", [state.to_dict() for state in states])
        return
    changed = [state for state in states if state.state not in ("unchanged", "empty")]
    empty = [state.dataset for state in states if state.state == "empty"]
    if changed:
        print_table(
            "Versioned datasets that differ from their latest version",
            ["dataset", "state", "path", "working copy", "latest", "note"],
            [_status_row(state) for state in changed],
        )
    else:
        say(f"[green]✓[/green] {_count(len(states) - len(empty))}, all unchanged")
    if empty:
        say(f"not produced yet (no data, no versions): {', '.join(empty)}")


@app.command("checkout")
def checkout(
    names: DatasetsArgument = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            metavar="REF",
            help="The version to put in place: an id, unique id prefix, tag or latest. "
            "Needs exactly one NAME. Default: the latest version.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace working copies even if their content is not recorded as any "
            "version (those changes are lost).",
        ),
    ] = False,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make working copies hold a recorded version (default: each dataset's latest).

    Restores missing working copies and undoes edits. A working copy holding content that
    no version records is refused (keep it with `shipyard data add NAME`, or pass --force).
    A folder ends up exactly as the version: files the version lacks are removed. Nothing
    new is recorded.
    """
    from shipyard.errors import DatasetError

    session = _open(env)
    if version is not None and len(names or ()) != 1:
        raise DatasetError(
            "--version picks a version of one dataset, but "
            + (f"{len(names or ())} were named." if names else "none was named."),
            hint="Name exactly one dataset: shipyard data checkout NAME --version REF",
        )
    chosen = _chosen(session, names)
    done: list[dict[str, Any]] = []
    refused: list[WorkingState] = []
    for name in chosen:
        dataset = session.catalog.get(name)
        before = dataset.status()
        if before.latest is None and not names:
            continue  # nothing recorded to go back to
        unrecorded = before.digest is not None and before.matches is None
        if unrecorded and before.latest is not None and not force and len(chosen) > 1:
            refused.append(before)  # one dataset alone gets the library's own error
            continue
        target = dataset.checkout(version, force=force)
        changed = before.digest != target.digest
        done.append(
            {"dataset": name, "path": before.path, "before": before.state, "changed": changed,
             "version": target.to_dict()}
        )  # fmt: skip
    if as_json:
        emit_json("checkout", {"datasets": done, "refused": [s.to_dict() for s in refused]})
    else:
        _print_checkouts(done)
    if refused:
        raise DatasetError(
            "These working copies hold changes that no version records, so they were left "
            "alone: " + ", ".join(f"{state.dataset} ({state.path})" for state in refused) + ".",
            hint="Record them with `shipyard data add NAME`, or discard them with --force.",
        )


@app.command("add")
def add(names: DatasetsArgument = None, env: EnvOption = None, as_json: JsonOption = False) -> None:
    """Record working copies as versions, e.g. a raw file you copied in or edited by hand.

    Default: every versioned dataset whose working copy is modified or new. Content equal to
    the latest version records nothing new; going back to an older content is a new version.
    """
    from shipyard.errors import DatasetError

    session = _open(env)
    chosen = [session.catalog.get(name) for name in _chosen(session, names)]
    if not names:
        chosen = [ds for ds in chosen if ds.status().state in ("modified", "new")]
    added = []
    for dataset in chosen:
        latest = session.versioning.index.latest(dataset.name)
        recorded = dataset.add()
        if recorded is None:
            raise DatasetError(
                f"Dataset '{dataset.name}' has no working copy at {dataset.status().path} to "
                "record.",
                hint=f"Produce it with `shipyard run`, or put a version back with "
                f"`shipyard data checkout {dataset.name}`.",
            )
        added.append({**recorded.to_dict(), "new": latest is None or latest.id != recorded.id})
    if as_json:
        emit_json("add", added)
        return
    if not added:
        say(f"[green]✓[/green] nothing to record: {_count(len(chosen) or len(names or ()))}")
        return
    print_table(
        "Recorded versions",
        ["dataset", "version", "size", "digest", ""],
        [
            (item["dataset"], item["id"], format_size(item["size"]), item["digest"][:19] + "…",
             "new" if item["new"] else "already the latest")
            for item in added
        ],
    )  # fmt: skip


@app.command("tag")
def tag(
    name: DatasetArgument,
    ref: Annotated[str, typer.Argument(help="A version id, unique id prefix, tag, or latest.")],
    tag_name: Annotated[str, typer.Argument(metavar="TAG", help="The tag, e.g. q3-audit.")],
    move: Annotated[
        bool, typer.Option("--move", help="Move the tag if another version has it.")
    ] = False,
    env: EnvOption = None,
) -> None:
    """Name a version (q3-audit, baseline) for --load-version and later reference."""
    session = _open(env)
    version = session.versioning.index.tag(_versioned(session, name), ref, tag_name, move=move)
    say(f"[green]✓[/green] {name}@{version.id} is tagged '{tag_name}'")


@app.command("verify")
def verify(env: EnvOption = None, quiet: QuietOption = False, as_json: JsonOption = False) -> None:
    """Re-hash every stored object and report any whose bytes no longer match their digest."""
    from rich.progress import Progress

    store = _open(env).versioning.store
    with Progress(transient=True, disable=quiet or as_json) as progress:
        task = progress.add_task("verifying objects", total=None)
        report = store.verify_all(progress=lambda files, _bytes: progress.advance(task, files))
    corrupt = [str(digest) for digest in report.corrupt]
    if as_json:
        emit_json("verify", {"checked": report.checked, "corrupt": corrupt})
    elif not corrupt:
        say(f"[green]✓[/green] {report.checked} objects checked, all intact")
    if corrupt:
        from shipyard.errors import CorruptObjectError

        raise CorruptObjectError(
            f"{len(corrupt)} of {report.checked} objects in {store.url} are corrupt: "
            + ", ".join(corrupt),
            hint="Versions stored in them cannot be loaded. Delete those object files and "
            "fetch them again with `shipyard data pull`, or save the datasets once more.",
        )


@app.command("push")
def push(
    remote: RemoteOption = None,
    jobs: JobsOption = None,
    env: EnvOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Copy the objects of every recorded version that the remote lacks to it."""
    from shipyard.objects import reachable

    session = _open(env)
    local = session.versioning.store
    wanted = reachable(local, session.versioning.index.digests())
    present = sorted((d for d in wanted if local.exists(d)), key=str)
    config, target = _remote(session, remote)
    with _progress(f"pushing to {config.name}", quiet or as_json, len(present)) as advance:
        report = _transfer(config, local, target, present, jobs, False, advance)
    _report("push", config, report, as_json, missing=len(wanted) - len(present))


@app.command("pull")
def pull(
    remote: RemoteOption = None,
    jobs: JobsOption = None,
    verify_: VerifyOption = False,
    env: EnvOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Fetch the objects of every recorded version, then put back missing working files."""
    session = _open(env)
    config, report = _fetch(session, remote, jobs, verify_, quiet or as_json)
    restored = _restore_working_files(session)
    _report("pull", config, report, as_json, restored=restored)


@app.command("fetch")
def fetch(
    remote: RemoteOption = None,
    jobs: JobsOption = None,
    verify_: VerifyOption = False,
    env: EnvOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Fetch the objects of every recorded version; working files are left alone."""
    config, report = _fetch(_open(env), remote, jobs, verify_, quiet or as_json)
    _report("fetch", config, report, as_json)


@app.command("gc")
def gc(
    keep_tagged_only: Annotated[
        bool, typer.Option("--keep-tagged-only", help="Keep only the objects of tagged versions.")
    ] = False,
    keep_last: Annotated[
        int | None,
        typer.Option(
            "--keep-last",
            min=0,
            help="Keep only the N newest versions of each dataset (plus tagged ones).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the objects no kept version needs (by default: every recorded version)."""
    from shipyard.objects import collect_garbage

    versioning = _open(env).versioning
    keep = versioning.index.digests(tagged_only=keep_tagged_only, keep_last=keep_last)
    report = collect_garbage(versioning.store, keep, dry_run=dry_run)
    removed = [{"digest": str(info.digest), "size": info.size} for info in report.removed]
    if as_json:
        emit_json("gc", {"dry_run": dry_run, "removed": removed, "bytes": report.bytes,
                         "kept": report.kept, "temp_files": list(report.temp_files)})  # fmt: skip
        return
    verb = "would remove" if dry_run else "removed"
    if removed:
        print_table(
            f"Objects gc {verb}",
            ["digest", "size"],
            [(item["digest"], format_size(item["size"])) for item in removed],
        )
    say(
        f"[green]✓[/green] {verb} {len(removed)} objects ({format_size(report.bytes)}) and "
        f"{len(report.temp_files)} stale temp files; kept {report.kept} objects"
    )


def format_size(size: int) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _open(env: str | None) -> Session:
    from shipyard.project import Session

    return Session.open(env=env)


def _versioned(session: Session, name: str) -> str:
    from shipyard.errors import DatasetError, did_you_mean

    versioned = session.catalog.versioned_datasets()
    if name not in versioned:
        raise DatasetError(
            f"Dataset '{name}' is not versioned." + did_you_mean(name, versioned),
            hint="Add `versioned: true` to its catalog entry. Versioned datasets here: "
            + (", ".join(versioned) or "none"),
        )
    return name


def _chosen(session: Session, names: list[str] | None) -> list[str]:
    """The named versioned datasets (each checked), or all of them."""
    if names:
        return [_versioned(session, name) for name in dict.fromkeys(names)]
    return session.catalog.versioned_datasets()


def _count(n: int) -> str:
    return f"{n} versioned dataset" + ("" if n == 1 else "s")


def _short(version: DataVersion | None) -> str:
    if version is None:
        return ""
    return version.id + (f" ({', '.join(version.tags)})" if version.tags else "")


def _status_row(state: WorkingState) -> tuple[str, ...]:
    notes = {
        "new": f"no version yet: `shipyard data add {state.dataset}`",
        "missing": f"put it back: `shipyard data checkout {state.dataset}`",
        "modified": f"not recorded: `shipyard data add {state.dataset}`",
    }
    note = notes[state.state]
    if state.state == "modified" and state.matches is not None:
        note = f"matches older version {_short(state.matches)}"
    digest = str(state.digest)[7:19] + "…" if state.digest is not None else "(none)"
    return (state.dataset, state.state, state.path, digest, _short(state.latest), note)


def _print_checkouts(done: list[dict[str, Any]]) -> None:
    changed = [item for item in done if item["changed"]]
    for item in changed:
        version = item["version"]
        tags = f" ({', '.join(version['tags'])})" if version["tags"] else ""
        say(
            f"[green]✓[/green] {item['dataset']}: {item['path']} now holds version "
            f"{version['id']}{tags} (was {item['before']})"
        )
    if len(changed) < len(done):
        say(f"[green]✓[/green] {_count(len(done) - len(changed))} already held that version")
    if not done:
        say("nothing to check out: no versioned dataset has a recorded version")


def _remote(session: Session, name: str | None) -> tuple[Remote, ObjectStore]:
    from shipyard.errors import ObjectNotFoundError
    from shipyard.objects import Digest
    from shipyard.project import load_remotes, select_remote

    config = select_remote(
        load_remotes(session.config, project_root=session.settings.project_root), name
    )
    store = config.store(session.config)
    try:
        store.size(Digest.parse("blake3:" + "0" * 64))  # a cheap round trip to the remote
    except ObjectNotFoundError:
        pass  # the remote answered
    except Exception as exc:
        raise _unreachable(config, exc) from exc
    return config, store


def _unreachable(config: Remote, exc: BaseException) -> Exception:
    from shipyard.errors import RemoteError

    return RemoteError(
        f"Remote '{config.name}' at {config.url} could not be reached: {type(exc).__name__}: {exc}",
        hint="Check its url in conf/*/remotes.yml, its credentials and the network; nothing "
        "was changed locally.",
    )


def _transfer(
    config: Remote,
    source: ObjectStore,
    target: ObjectStore,
    digests: list[Digest],
    jobs: int | None,
    verify: bool,
    advance: Any,
) -> TransferReport:
    from shipyard.errors import ShipyardError
    from shipyard.objects import transfer

    try:
        report = transfer(
            source, target, digests, jobs=jobs or config.jobs, verify=verify, progress=advance
        )
    except ShipyardError:
        raise
    except Exception as exc:
        raise _unreachable(config, exc) from exc
    return report.check()


def _fetch(
    session: Session, name: str | None, jobs: int | None, verify: bool, quiet: bool
) -> tuple[Remote, TransferReport]:
    """Fetch every version's object, then the files of the tree manifests among them."""
    from shipyard.objects import TransferReport, reachable

    local = session.versioning.store
    wanted = sorted(session.versioning.index.digests(), key=str)
    config, source = _remote(session, name)
    with _progress(f"fetching from {config.name}", quiet, len(wanted)) as advance:
        first = _transfer(config, source, local, wanted, jobs, verify, advance)
        files = sorted(reachable(local, wanted) - set(wanted), key=str)
        advance(0, 0, more=len(files))
        second = _transfer(config, source, local, files, jobs, verify, advance)
    return config, TransferReport(
        first.copied + second.copied, first.skipped + second.skipped, first.bytes + second.bytes
    )


def _restore_working_files(session: Session) -> list[str]:
    """Put the latest version of each versioned dataset whose working copy is missing."""
    catalog = session.catalog
    return [
        name
        for name in catalog.versioned_datasets()
        if catalog.get(name).restore_working_copy() is not None
    ]


@contextmanager
def _progress(description: str, disable: bool, total: int) -> Iterator[Any]:
    """A Rich bar of objects and bytes on stderr; off with -q/--json or without a TTY."""
    import sys

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    disable = disable or not sys.stderr.isatty()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, TextColumn("objects, {task.fields[moved]}"), transient=True, disable=disable
    ) as progress:
        task = progress.add_task(description, total=total, moved=format_size(0))
        moved = 0

        def advance(count: int, size: int, *, more: int = 0) -> None:
            nonlocal moved
            moved += size
            total = (progress.tasks[task].total or 0) + more
            progress.update(task, advance=count, total=total, moved=format_size(moved))

        yield advance


def _report(
    command: str, config: Remote, report: TransferReport, as_json: bool, **extra: Any
) -> None:
    result = {
        "remote": config.name,
        "url": config.url,
        "copied": report.copied,
        "skipped": report.skipped,
        "bytes": report.bytes,
        **extra,
    }
    if as_json:
        emit_json(command, result)
        return
    line = (
        f"[green]✓[/green] {command}: {report.copied} objects copied "
        f"({format_size(report.bytes)}), {report.skipped} already there — remote "
        f"'{config.name}' ({config.url})"
    )
    if extra.get("missing"):
        line += f"; {extra['missing']} objects of recorded versions are not in the local store"
    if extra.get("restored"):
        line += f"; restored working files of {', '.join(extra['restored'])}"
    say(line)

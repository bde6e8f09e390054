"""Copy objects between stores (push, pull, fetch): only what the target lacks, in parallel.

Each object goes through the target's normal atomic write, so an interrupted transfer
leaves nothing partial behind and the next call copies only what is still missing.

>>> report = transfer(local, remote, local.list(), jobs=8)   # doctest: +SKIP
>>> report.copied, report.skipped, report.ok
(120, 3, True)
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shipyard.errors import ObjectNotFoundError, ObjectStoreError, RemoteError
from shipyard.objects._digest import Digest
from shipyard.objects._store import ObjectStore

Progress = Callable[[int, int], None]
BACKOFF_S = 0.25
_NOT_RETRIED = frozenset({errno.ENOSPC, errno.ENOENT, errno.EACCES, errno.EROFS})


@dataclass(frozen=True, slots=True)
class TransferReport:
    """What a transfer did: objects copied and already present, bytes moved, and the
    objects that failed after every retry (digest -> reason)."""

    copied: int
    skipped: int
    bytes: int
    failed: Mapping[Digest, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        return not self.failed

    def check(self) -> TransferReport:
        """Return self, or raise :class:`RemoteError` naming the first failures."""
        if self.failed:
            shown = "; ".join(f"{d}: {why}" for d, why in list(self.failed.items())[:3])
            raise RemoteError(
                f"{len(self.failed)} object(s) could not be transferred ({self.copied} were): "
                f"{shown}",
                hint="Run the same command again: objects already copied are skipped.",
            )
        return self


def transfer(
    source: ObjectStore,
    target: ObjectStore,
    digests: Iterable[Digest],
    *,
    jobs: int = 4,
    retries: int = 3,
    verify: bool = False,
    progress: Progress | None = None,
) -> TransferReport:
    """Copy each of ``digests`` that ``target`` lacks from ``source``.

    ``jobs`` objects move at once (from a local source, largest first); an ``OSError``
    is retried ``retries`` times with exponential backoff; ``verify`` re-hashes the bytes
    as they arrive and keeps nothing that does not match. ``progress(files, bytes)`` is
    called from this thread with the increments after each object.
    """
    copied = skipped = moved = 0
    failed: dict[Digest, str] = {}
    # Imported here, not with the package: most commands never transfer.
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: dict[Future[int | None], Digest] = {}
        for digest in _largest_first(source, dict.fromkeys(digests)):
            if target.is_local and target.exists(digest):
                # A stat: cheaper here than a task, and most of a re-push is skipped objects.
                skipped += 1
                if progress is not None:
                    progress(1, 0)
                continue
            pending[pool.submit(_copy_one, source, target, digest, retries, verify)] = digest
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                digest = pending.pop(future)
                try:
                    size = future.result()
                except (OSError, ObjectStoreError) as exc:
                    failed[digest] = _reason(exc)
                    continue
                if size is None:
                    skipped += 1
                else:
                    copied, moved = copied + 1, moved + size
                if progress is not None:
                    progress(1, size or 0)
    return TransferReport(copied, skipped, moved, MappingProxyType(failed))


def _largest_first(source: ObjectStore, digests: Iterable[Digest]) -> list[Digest]:
    """``digests`` with a local source's largest objects first, so a big file is not left
    copying alone at the end while the other workers idle (one stat per object)."""
    if not source.is_local:
        return list(digests)

    def size(digest: Digest) -> int:
        try:
            return source.size(digest)
        except ObjectNotFoundError:
            return 0  # _copy_one reports it

    return sorted(digests, key=size, reverse=True)


def _copy_one(
    source: ObjectStore, target: ObjectStore, digest: Digest, retries: int, verify: bool
) -> int | None:
    """Bytes copied, or None if the target already had the object."""
    for attempt in range(retries + 1):
        try:
            if target.exists(digest):
                return None
            return _copy(source, target, digest, verify)
        except (OSError, ObjectStoreError) as exc:
            if attempt == retries or not _retryable(exc):
                raise
            time.sleep(BACKOFF_S * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _copy(source: ObjectStore, target: ObjectStore, digest: Digest, verify: bool) -> int:
    local = source.local_path(digest)
    try:
        if local is not None and target.is_local and not verify:
            return target._store_file(local, digest, local.stat()).size
        stream = source._backend.open_read(digest.key)
    except FileNotFoundError as exc:
        raise ObjectNotFoundError(
            f"Object {digest} is not in the source store at {source.url}."
        ) from exc
    with stream:
        return target._put_known_stream(stream, digest, verify=verify)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ObjectStoreError):
        cause = exc.__cause__
        return isinstance(cause, OSError) and _retryable(cause)
    if isinstance(exc, FileNotFoundError | PermissionError):
        return False
    return isinstance(exc, OSError) and exc.errno not in _NOT_RETRIED


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ObjectStoreError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"

"""Promotion requests and their approvals: a promotion that waits for approvals is a
pending request until it is completed, rejected or withdrawn.

Whether a user may approve is checked by the caller (:mod:`shipyard.governance`); this
module stores, refuses a second approval by the same user and any change to a closed
request. Import the public functions from :mod:`shipyard.metadata.registry`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from shipyard.errors import ModelError, ModelNotFoundError, PromotionError
from shipyard.ids import new_id
from shipyard.metadata._portable import now
from shipyard.metadata._registry_records import (
    CLOSED_STATUSES,
    Approval,
    PromotionRequest,
    check_alias,
    from_row,
    json_safe,
)
from shipyard.metadata._registry_versions import add_event, get_version, lock_model
from shipyard.metadata._schema import approvals as approval_rows
from shipyard.metadata._schema import promotion_requests

__all__ = ["add_approval", "close_request", "get_request", "open_request", "pending_requests"]


def open_request(
    conn: Connection,
    name: str,
    version: int,
    alias: str,
    *,
    user: str,
    gate_results: Sequence[Any],
) -> PromotionRequest:
    """A pending request to move ``alias`` to ``version``, recording a ``requested`` event.

    If one is already pending for the same version and alias, it is returned with its gate
    results replaced by ``gate_results`` (its approvals and requester are kept).
    """
    check_alias(alias)
    lock_model(conn, name)  # two requests at once still make one pending request
    get_version(conn, name, version)
    results = json_safe(list(gate_results))
    pending = _requests(conn, *_pending(name, version, alias))
    if pending:
        request_id = pending[0].id
        conn.execute(
            update(promotion_requests)
            .where(promotion_requests.c.id == request_id)
            .values(gate_results=results)
        )
    else:
        request_id = new_id()
        conn.execute(
            promotion_requests.insert().values(
                id=request_id,
                model=name,
                version=version,
                alias=alias,
                status="pending",
                gate_results=results,
                requested_by=user,
                requested_at=now(),
            )
        )
    details = {"request": request_id, "gates": results}
    add_event(conn, name, "requested", actor=user, version=version, alias=alias, details=details)
    return get_request(conn, request_id)


def pending_requests(
    conn: Connection, name: str, *, version: int | None = None, alias: str | None = None
) -> list[PromotionRequest]:
    """The model's pending requests (of ``version`` and ``alias`` if given), oldest first."""
    return _requests(conn, *_pending(name, version, alias))


def get_request(conn: Connection, request_id: str) -> PromotionRequest:
    """The promotion request ``request_id``, with its approvals."""
    found = _requests(conn, promotion_requests.c.id == request_id)
    if not found:
        raise ModelNotFoundError(
            f"No promotion request '{request_id}' is recorded.",
            hint="`shipyard models show NAME` lists a model's pending requests.",
        )
    return found[0]


def add_approval(
    conn: Connection, request_id: str, *, user: str, role: str, comment: str | None = None
) -> PromotionRequest:
    """Record ``user``'s approval (in ``role``) of a pending request; an ``approved`` event.

    :class:`PromotionError` if the request is closed or ``user`` approved it already.
    Whether ``user`` may approve at all is checked by the caller.
    """
    request = _lock_pending(conn, request_id, "approved")
    if any(given.user == user for given in request.approvals):
        raise PromotionError(
            f"{user} has already approved the promotion of {_subject(request)}.",
            hint="Each person approves a request once: ask another approver.",
        )
    conn.execute(
        approval_rows.insert().values(
            request_id=request_id, user=user, role=role, comment=comment, at=now()
        )
    )
    details = {"request": request_id, "role": role, "comment": comment}
    add_event(
        conn,
        request.model,
        "approved",
        actor=user,
        version=request.version,
        alias=request.alias,
        details=details,
    )
    return get_request(conn, request_id)


def close_request(conn: Connection, request_id: str, status: str, *, user: str) -> PromotionRequest:
    """Close a pending request as ``completed``, ``rejected`` or ``withdrawn``.

    Rejecting and withdrawing record an event of that kind; a completed request's alias
    move is recorded by :func:`set_alias`.
    """
    if status not in CLOSED_STATUSES:
        raise ModelError(
            f"'{status}' is not a status a promotion request can be closed with.",
            hint=f"Use one of: {', '.join(CLOSED_STATUSES)}.",
        )
    request = _lock_pending(conn, request_id, status)
    conn.execute(
        update(promotion_requests)
        .where(promotion_requests.c.id == request_id)
        .values(status=status, closed_at=now(), closed_by=user)
    )
    if status != "completed":
        add_event(
            conn,
            request.model,
            status,
            actor=user,
            version=request.version,
            alias=request.alias,
            details={"request": request_id},
        )
    return get_request(conn, request_id)


def _lock_pending(conn: Connection, request_id: str, verb: str) -> PromotionRequest:
    conn.execute(
        select(promotion_requests.c.id)
        .where(promotion_requests.c.id == request_id)
        .with_for_update()
    )
    request = get_request(conn, request_id)
    if request.status != "pending":
        raise PromotionError(
            f"The promotion of {_subject(request)} is {request.status}; it cannot be {verb}.",
            hint=f"Request it again: shipyard models promote {request.model} "
            f"{request.version} --alias {request.alias}",
        )
    return request


def _subject(request: PromotionRequest) -> str:
    return f"{request.model} version {request.version} to '{request.alias}' (request {request.id})"


def _pending(name: str, version: int | None, alias: str | None) -> list[Any]:
    table = promotion_requests
    where = [table.c.model == name, table.c.status == "pending"]
    if version is not None:
        where.append(table.c.version == version)
    if alias is not None:
        where.append(table.c.alias == alias)
    return where


def _requests(conn: Connection, *where: Any) -> list[PromotionRequest]:
    rows = conn.execute(
        select(promotion_requests)
        .where(*where)
        .order_by(promotion_requests.c.requested_at, promotion_requests.c.id)
    ).all()
    given: dict[str, list[Approval]] = defaultdict(list)
    if rows:
        for row in conn.execute(
            select(approval_rows)
            .where(approval_rows.c.request_id.in_([row.id for row in rows]))
            .order_by(approval_rows.c.at, approval_rows.c.user)
        ):
            given[row.request_id].append(from_row(Approval, row))
    return [from_row(PromotionRequest, row, approvals=tuple(given[row.id])) for row in rows]

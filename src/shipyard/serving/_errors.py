"""The error a request can be refused with: an HTTP status, a message and details."""

from __future__ import annotations

from typing import Any

from shipyard.errors import ShipyardError

__all__ = ["RequestError"]


class RequestError(ShipyardError):
    """A request the endpoint refuses: ``status`` is its HTTP status code, ``details`` a
    list of JSON-able problems (for 422: one ``{"column": ..., "problem": ...}`` each).

    The response body is ``{"error": message, "hint": hint, "details": details}``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        hint: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.details = list(details or [])

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        body: dict[str, Any] = {"error": self.message, "hint": self.hint}
        if self.details:
            body["details"] = self.details
        return body

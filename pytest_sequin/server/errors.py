"""The error answers of the API (spec §5), as exceptions the engine raises.

Each carries the exact status and body the real server sends, so the HTTP layer only
serialises them. A 500 also carries ``cause``: which real-server failure it stands for, written
to the server log, because the body itself (``Internal Server Error``) tells a user nothing.
"""

from __future__ import annotations

from typing import Any, Mapping

REASON_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    406: "Not Acceptable",
    413: "Request Entity Too Large",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
}


class ApiError(Exception):
    """An error answer. ``framework`` errors have no ``summary`` (§5.3)."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any],
        *,
        framework: bool = False,
        before_endpoint: bool = False,
        cause: str | None = None,
    ) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = dict(body)
        self.framework = framework
        #: Raised before an endpoint was chosen, so the body is HTML unless the request's
        #: Accept header asks for JSON (§5.3).
        self.before_endpoint = before_endpoint
        self.cause = cause


def not_found(entity: str) -> ApiError:
    return ApiError(404, {"summary": f"Not found: No `{entity}` found matching the provided ID or name"})


def bad_request(summary: str) -> ApiError:
    return ApiError(400, {"summary": summary})


def validation_failed(errors: Mapping[str, Any]) -> ApiError:
    return ApiError(422, {"summary": "Validation failed", "validation_errors": dict(errors)})


def framework_error(status: int, *, before_endpoint: bool = False, cause: str | None = None) -> ApiError:
    return ApiError(
        status,
        {"errors": {"detail": REASON_PHRASES[status]}},
        framework=True,
        before_endpoint=before_endpoint,
        cause=cause,
    )


def internal_error(cause: str) -> ApiError:
    """A 500 that the real server would answer too (§7.3); ``cause`` names the failure."""
    return framework_error(500, cause=cause)

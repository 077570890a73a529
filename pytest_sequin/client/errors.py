"""The one exception the handle API raises: ``SequinError``.

The SDK-compatible methods return ``(result, error)`` and never raise for server or transport
failures. Test code usually prefers an exception that fails loudly with everything needed to
understand the failure, so the handles raise ``SequinError`` carrying the status, the summary,
the full decoded body (which keeps ``validation_errors`` and framework ``errors.detail`` that the
``{"status", "summary"}`` dict drops) and the request that failed.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

__all__ = ["SequinError"]


class SequinError(Exception):
    """A Sequin call failed: HTTP error status, transport failure (status 500) or bad response.

    Attributes:
        status: HTTP status, or 500 when no HTTP answer was obtained (the SDK's convention).
        summary: the same text the SDK-compatible ``error["summary"]`` carries.
        body: the decoded JSON error body, the raw text when it was not JSON, or None when no
            answer arrived.
        method, path: the request that failed (path as sent, URL-encoded, without the base URL).
    """

    def __init__(
        self,
        status: int,
        summary: str,
        *,
        body: Any = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(status, summary)
        self.status = status
        self.summary = summary
        self.body = body
        self.method = method
        self.path = path

    @property
    def request(self) -> Tuple[str, str]:
        """``(method, path)`` of the failed request."""
        return (self.method, self.path)

    @property
    def error(self) -> Dict[str, Any]:
        """The SDK-style error dict, for code that wants to compare with ``(result, error)`` calls."""
        return {"status": self.status, "summary": self.summary}

    @property
    def validation_errors(self) -> Optional[Dict[str, Any]]:
        """The 422 ``validation_errors`` map, if the body had one."""
        if isinstance(self.body, dict) and isinstance(self.body.get("validation_errors"), dict):
            return self.body["validation_errors"]
        return None

    def __str__(self) -> str:
        text = f"{self.status} {self.summary}"
        if self.validation_errors:
            text += f" {self.validation_errors}"
        elif isinstance(self.body, dict) and "summary" not in self.body and self.body:
            text += f" {self.body}"  # framework errors: {"errors": {"detail": ...}}
        if self.method:
            text += f" ({self.method} {self.path})"
        return text

    def __repr__(self) -> str:
        return (
            f"SequinError(status={self.status!r}, summary={self.summary!r}, "
            f"method={self.method!r}, path={self.path!r})"
        )

    def __reduce__(self) -> Any:
        # Keyword-only arguments do not survive the default Exception pickling (pytest-xdist
        # ships exceptions between processes).
        return (_rebuild, (self.status, self.summary, self.body, self.method, self.path))


def _rebuild(status: int, summary: str, body: Any, method: str, path: str) -> SequinError:
    return SequinError(status, summary, body=body, method=method, path=path)

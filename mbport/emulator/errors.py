"""Metabase's error responses: plain text for status-only errors, JSON for errors that carry data."""

from __future__ import annotations

from typing import Any

REVISION_CONFLICT = (
    "Looks like someone else edited the permissions and your data is out of date. "
    "Please fetch new data and try again."
)


class ApiError(Exception):
    """An HTTP error answered the way Metabase's exception middleware answers it."""

    def __init__(self, status: int, body: Any):
        super().__init__(f"{status}: {body}")
        self.status = status
        # A str body is sent as text/plain, anything else as JSON.
        self.body = body


def not_found() -> ApiError:
    return ApiError(404, "Not found.")


def forbidden() -> ApiError:
    return ApiError(403, "You don't have permissions to do that.")


def unauthenticated() -> ApiError:
    return ApiError(401, "Unauthenticated")


def bad_request(text: str = "Invalid Request.") -> ApiError:
    """A check-400 style error: plain text."""
    return ApiError(400, text)


def invalid(errors: dict[str, Any], specific: dict[str, Any] | None = None) -> ApiError:
    """Schema validation failure: JSON errors map (plus specific-errors like malli's humanized output)."""
    body: dict[str, Any] = {"errors": errors}
    if specific is not None:
        body["specific-errors"] = specific
    return ApiError(400, body)


def checkp(field: str, text: str, status: int = 400) -> ApiError:
    """A one-field check (api/checkp): JSON {"errors": {field: text}}."""
    return ApiError(status, {"errors": {field: text}})


def archived() -> ApiError:
    return ApiError(404, {"message": "The object has been archived.", "error_code": "archived", "status": 404})


def revision_conflict() -> ApiError:
    return ApiError(409, REVISION_CONFLICT)


def server_error(message: str, data: dict[str, Any] | None = None) -> ApiError:
    """An unexpected (or assertion) error: 500 with a JSON map like Metabase's."""
    body = {"message": message, "trace": [], "via": [{"type": "java.lang.AssertionError", "message": message}]}
    if data:
        body.update(data)
    return ApiError(500, body)

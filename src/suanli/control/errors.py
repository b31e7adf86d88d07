"""The control plane's exception tree; `api/problems.py` maps each to one HTTP status."""

from __future__ import annotations

from suanli.domain.errors import FieldError


class ControlError(Exception):
    """Base of every control-plane error. `code` is stable and machine-readable."""

    code = "error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class Unauthorized(ControlError):
    code = "unauthorized"


class Forbidden(ControlError):
    """Allowed to see the object, not to do this to it."""

    code = "forbidden"


class NotFound(ControlError):
    """No such object, or one the caller may not see (tenants never learn which)."""

    code = "not_found"


class Invalid(ControlError):
    """Bad input; `errors` names each field and what is allowed."""

    code = "invalid"

    def __init__(
        self, detail: str, errors: list[FieldError] | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(detail, code=code)
        self.errors = errors or []


class Conflict(ControlError):
    code = "conflict"


class Unavailable(ControlError):
    code = "unavailable"

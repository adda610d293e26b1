"""Domain errors. Services raise these; one API exception handler and one console helper turn
them into a response with the same clear message (STYLE.md, habit 15)."""

from __future__ import annotations


class ApplicationError(Exception):
    """A request that cannot be carried out, with a message meant for a person."""

    status_code = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}

    @classmethod
    def for_field(cls, field: str, message: str, **kwargs) -> ApplicationError:
        return cls(message, fields={field: [message]}, **kwargs)


class ValidationError(ApplicationError):
    status_code = 400
    code = "validation_error"


class NotFound(ApplicationError):
    """Missing and forbidden look the same from outside (ARCHITECTURE.md, Tenancy)."""

    status_code = 404
    code = "not_found"

    def __init__(self, message: str = "Not found.", **kwargs) -> None:
        super().__init__(message, **kwargs)


class PermissionDenied(ApplicationError):
    """The actor can see the object but may not perform this action on it."""

    status_code = 403
    code = "permission_denied"


class Conflict(ApplicationError):
    """The action clashes with the current state (a duplicate, a wrong state transition)."""

    status_code = 409
    code = "conflict"


class Unprocessable(ApplicationError):
    """Well-formed but refused as a whole, e.g. an idempotency key sent again with another
    request."""

    status_code = 422
    code = "unprocessable"

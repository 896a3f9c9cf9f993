"""Domain errors. Services raise these; views and the API turn them into pages or JSON.

An error carries a message code from lms.messages and its parameters, never built text.
"""
from __future__ import annotations

from lms.messages import render


class DomainError(Exception):
    http_status = 400

    def __init__(self, code: str, **params) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def message(self) -> str:
        return render(self.code, **self.params)


class ValidationFailed(DomainError):
    http_status = 422


class NotFound(DomainError):
    http_status = 404


class PermissionDenied(DomainError):
    http_status = 403


class Conflict(DomainError):
    http_status = 409


class TooManyAttempts(DomainError):
    http_status = 429


class Unauthenticated(DomainError):
    http_status = 401

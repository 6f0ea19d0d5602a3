"""Errors as clear JSON with a stable `code` (X-03), never a bare 500."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every service's business errors: a stable code and a status."""

    code = "error"
    status = 400
    message = "The request could not be completed."
    # True: not the request's answer (a dependency did not answer); the same request may succeed later,
    # so whatever records answers (idempotency keys, say) must not keep this one.
    retryable = False

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 **details) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        self.headers: dict[str, str] = {}


class NotFound(DomainError):
    code, status, message = "not_found", 404, "Not found."


class Unauthorized(DomainError):
    code, status, message = "unauthorized", 401, "Authentication required."


class Forbidden(DomainError):
    code, status, message = "forbidden", 403, "Not allowed."


class AccountIsBlocked(Forbidden):
    code, message = "account_blocked", "This account is blocked. Contact support."


class SessionIsEnded(Unauthorized):
    # The token is genuine and unexpired, but its session was signed out or revoked (IDN-03).
    code, message = "session_ended", "This session has ended: sign in again."


class Conflict(DomainError):
    code, status, message = "conflict", 409, "Conflict with the current state."


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
                 413: "payload_too_large", 415: "unsupported_media_type", 429: "too_many_requests"}


def error_body(code: str, message: str, **extra) -> dict:
    return {"code": code, "message": message, **extra}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.details), status_code=exc.status,
                            headers=exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(error_body("invalid_json", "The request body is not valid JSON."), status_code=400)
        fields = [{"field": ".".join(str(p) for p in e.get("loc", ())), "type": e.get("type"),
                   "message": e.get("msg")} for e in errors]  # never echo the input: it may be a password
        return JSONResponse(error_body("validation_error", "Some fields are missing or invalid.", fields=fields),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", type(exc).__name__)
        return JSONResponse(error_body("internal_error", "An unexpected error occurred."), status_code=500)

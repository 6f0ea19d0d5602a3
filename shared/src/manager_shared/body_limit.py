"""Request bodies above a size are refused before they are read (X-03).

A plain ASGI middleware, installed by `ServiceRuntime.create_app` in front of
every route: a declared `Content-Length` above the limit is answered 413 at
once, without reading a byte of the body; a body without one (chunked
transfer) is counted as it streams in, and the request ends with 413 as soon
as the count passes the limit, so nothing larger is ever buffered.

Starlette's own `RequestBodyLimitMiddleware` counts the same way but checks
only when the route reads the body, and answers in plain text or FastAPI's
`{"detail"}` shape; every error here has the platform's `{code, message}`.
"""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

CODE = "payload_too_large"


class PayloadTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An
    HTTPException, so FastAPI's body parsing lets it through (anything else
    becomes a 400) and the shared handler answers with the JSON shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_message(limit))


def _message(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


def _response(limit: int) -> JSONResponse:
    # Close the connection: the rest of the body is never read.
    return JSONResponse(error_body(CODE, _message(limit)), status_code=413, headers={"Connection": "close"})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


class BodyLimitMiddleware:
    """Refuses request bodies larger than `max_bytes` with 413 `payload_too_large`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _response(limit)(scope, receive, send)
            return
        received, started = 0, False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except PayloadTooLarge:
            # Raised where no handler sits (e.g. a route reading the stream
            # outside FastAPI's body parsing): answer here if we still can.
            if started:
                raise
            await _response(limit)(scope, receive, send)

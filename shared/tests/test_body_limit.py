"""X-03: request bodies above `max_request_body_bytes` are refused with 413
`payload_too_large` before they are read, declared or streamed."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from manager_shared.body_limit import BodyLimitMiddleware
from manager_shared.db import event_tables
from manager_shared.errors import install_error_handlers
from manager_shared.runtime import ServiceRuntime
from manager_shared.settings import ServiceSettings
from manager_shared.testing.ports import free_port

LIMIT = 1000


class Note(BaseModel):
    text: str


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/notes")
    async def add_note(note: Note) -> dict:
        """A JSON body, parsed by FastAPI."""
        return {"length": len(note.text)}

    @router.put("/raw")
    async def raw(request: Request) -> dict:
        """A raw body read as a stream, as organizations' logo upload does."""
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    return router


def _service_app(tmp_path: Path) -> FastAPI:
    """The app exactly as every service builds it: through ServiceRuntime."""
    outbox, inbox = event_tables(sa.MetaData())
    runtime = ServiceRuntime("probe", ServiceSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/p.db",
                                                      max_request_body_bytes=LIMIT),
                             outbox_table=outbox, inbox_table=inbox, migrations=tmp_path)
    return runtime.create_app(version="0", description="probe", routers=[_router()])


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


def _note(size: int) -> bytes:
    return json.dumps({"text": "x" * (size - len('{"text": ""}'))}).encode()


def test_x_03_default_limit_is_one_mib():
    assert ServiceSettings().max_request_body_bytes == 1024 * 1024


async def test_x_03_declared_length_over_the_limit_is_refused_without_reading(tmp_path):
    inner = FastAPI()
    install_error_handlers(inner)
    inner.include_router(_router())
    reached_app = []

    async def app(scope, receive, send):  # records whether anything behind the limit ran
        reached_app.append(scope["type"])
        await inner(scope, receive, send)

    read = []

    async def receive():
        read.append(True)
        return {"type": "http.request", "body": b"x" * 10, "more_body": False}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/notes", "raw_path": b"/notes", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"probe"), (b"content-type", b"application/json"),
                         (b"content-length", str(10 * 1024 * 1024).encode())],
             "client": ("127.0.0.1", 1), "server": ("probe", 80)}
    await BodyLimitMiddleware(app, max_bytes=LIMIT)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["code"] == "payload_too_large"
    assert read == [] and reached_app == []  # not one byte read, no route ran


@pytest.mark.parametrize("path,method", [("/notes", "POST"), ("/raw", "PUT")])
async def test_x_03_runtime_app_refuses_large_bodies(tmp_path, path, method):
    async with _client(_service_app(tmp_path)) as client:
        over = await client.request(method, path, content=_note(LIMIT + 1),
                                    headers={"content-type": "application/json"})
        assert over.status_code == 413
        assert over.json()["code"] == "payload_too_large" and over.json()["message"]

        async def chunks():  # no Content-Length: chunked transfer
            for _ in range(20):
                yield b"x" * 100

        streamed = await client.request(method, path, content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert streamed.json()["code"] == "payload_too_large"

        under = await client.request(method, path, content=_note(LIMIT),
                                     headers={"content-type": "application/json"})
        assert under.status_code == 200


async def _serve(app: FastAPI):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 10
    while not server.started:
        assert asyncio.get_running_loop().time() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.01)
    return server, task, port


async def _exchange(port: int, head: bytes, body_parts: list[bytes]) -> bytes:
    """Raw HTTP/1.1 over a socket: the body is sent part by part, and the
    answer read as soon as the server gives it (it may not read the rest)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    for part in body_parts:
        writer.write(part)
        with_answer = asyncio.ensure_future(reader.read(65536))
        await asyncio.wait({with_answer}, timeout=0.05)  # yields to the server between parts
        if with_answer.done():
            answer = with_answer.result()
            break
        with_answer.cancel()
    else:
        answer = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    return answer


async def test_x_03_real_server_chunked_and_declared_bodies(tmp_path):
    server, task, port = await _serve(_service_app(tmp_path))
    try:
        # chunked, never declaring a length: refused once past the limit
        parts = [f"{200:x}\r\n".encode() + b"x" * 200 + b"\r\n" for _ in range(50)] + [b"0\r\n\r\n"]
        head = (b"PUT /raw HTTP/1.1\r\nHost: probe\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n")
        answer = await _exchange(port, head, parts)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"payload_too_large"' in answer

        # a declared 10 MB body: answered at once although only 100 bytes were sent
        head = (b"POST /notes HTTP/1.1\r\nHost: probe\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {10 * 1024 * 1024}\r\n\r\n".encode())
        answer = await asyncio.wait_for(_exchange(port, head, [b"x" * 100]), timeout=10)
        assert answer.startswith(b"HTTP/1.1 413") and b'"payload_too_large"' in answer

        # under the limit, chunked: served normally
        head = (b"PUT /raw HTTP/1.1\r\nHost: probe\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        parts = [f"{100:x}\r\n".encode() + b"y" * 100 + b"\r\n" for _ in range(5)] + [b"0\r\n\r\n"]
        answer = await _exchange(port, head, parts)
        assert answer.startswith(b"HTTP/1.1 200") and b'"size":500' in answer
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)

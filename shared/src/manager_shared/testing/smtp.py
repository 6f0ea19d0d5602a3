"""An SMTP catcher: a real SMTP server (aiosmtpd) that keeps what it receives
and shows it over HTTP (`GET /messages` as JSON, `/` as a page).

Each message is a dict: from, to, subject, headers, text, html and
attachments, a list of {"filename", "media_type", "content"} with the bytes a
mail client would save (over HTTP: "size" and "content_base64" instead).

Run alone: python -m manager_shared.testing.smtp --smtp-port 1025 --http-port 8025
"""
from __future__ import annotations

import argparse
import base64
import email
import email.policy
import html
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, catcher: "MailCatcher") -> None:
        self.catcher = catcher

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.catcher.reject_domain and address.lower().endswith("@" + self.catcher.reject_domain):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
        self.catcher._store({
            "received_at": datetime.now(timezone.utc).isoformat(),
            "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
            "subject": str(msg.get("Subject", "")), "headers": {k: str(v) for k, v in msg.items()},
            "text": text.get_content() if text else "", "html": html_part.get_content() if html_part else "",
            "attachments": [{"filename": part.get_filename(), "media_type": part.get_content_type(),
                             "content": part.get_payload(decode=True) or b""} for part in msg.iter_attachments()],
        })
        return "250 Message accepted"


class MailCatcher:
    """Thread-backed SMTP server; `messages` holds every mail received."""

    def __init__(self, smtp_port: int = 0, http_port: int | None = None, host: str = "127.0.0.1") -> None:
        from .ports import free_port

        self.host = host
        self.smtp_port = smtp_port or free_port()
        self.http_port = http_port
        self.messages: list[dict] = []
        # Message-ID → [(filename, media type, bytes)] of its attachments
        self.files: dict[str, list[tuple[str | None, str, bytes]]] = {}
        self.reject_domain: str | None = None  # tests: answer 550 for this domain
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._http: ThreadingHTTPServer | None = None

    def _store(self, message: dict) -> None:
        with self._lock:
            self.messages.append(message)
            if "Message-ID" in message["headers"]:
                self.files[message["headers"]["Message-ID"]] = [
                    (a["filename"], a["media_type"], a["content"]) for a in message["attachments"]]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.files.clear()

    def wait_for(self, predicate, timeout: float = 30.0, count: int = 1) -> list[dict]:
        """Wait until `count` messages match; returns the matches."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [m for m in self.messages if predicate(m)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def start(self) -> "MailCatcher":
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.smtp_port,
                                      server_kwargs={"data_size_limit": 10 * 1024 * 1024})
        self._controller.start()
        if self.http_port is not None:
            self._start_http()
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None
        if self._http:
            self._http.shutdown()
            self._http = None

    def _start_http(self) -> None:
        catcher = self

        class View(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                with catcher._lock:
                    msgs = list(catcher.messages)
                if self.path.startswith("/messages"):
                    body, ctype = json.dumps([_jsonable(m) for m in msgs], indent=2).encode(), "application/json"
                else:
                    rows = "".join(
                        f"<article><h3>{html.escape(m['subject'])}</h3><p>to {html.escape(', '.join(m['to']))}"
                        f" at {m['received_at']}</p><pre>{html.escape(m['text'])}</pre>"
                        + "".join(f"<p>attached: {html.escape(a['filename'] or '(no name)')}"
                                  f" ({html.escape(a['media_type'])}, {len(a['content'])} bytes)</p>"
                                  for a in m["attachments"])
                        + "</article><hr>"
                        for m in reversed(msgs))
                    body = f"<html><body><h1>Mail catcher ({len(msgs)})</h1>{rows}</body></html>".encode()
                    ctype = "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = ThreadingHTTPServer((self.host, self.http_port), View)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()


def _jsonable(message: dict) -> dict:
    """A message for `GET /messages`: attachments with their size and base64 content."""
    return {**message, "attachments": [
        {"filename": a["filename"], "media_type": a["media_type"], "size": len(a["content"]),
         "content_base64": base64.b64encode(a["content"]).decode()} for a in message["attachments"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    args = parser.parse_args()
    MailCatcher(args.smtp_port, args.http_port).start()
    print(f"SMTP on 127.0.0.1:{args.smtp_port}, mail at http://127.0.0.1:{args.http_port}/", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

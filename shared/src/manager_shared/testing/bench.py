"""Helpers the benchmarks in bench/ share (figures and stand-ins)."""
from __future__ import annotations

import json
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .ports import free_port
from .tokens import TestTokens


def p95(values: list[float]) -> float:
    """The 95th percentile; the largest value for fewer than 20."""
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def serve_jwks(tokens: TestTokens) -> tuple[ThreadingHTTPServer, str]:
    """The tokens' public key at a local URL, as identity's JWKS endpoint
    serves it, so a service under load verifies them as in production.
    Returns the server (call .shutdown()) and the URL."""
    body = json.dumps(tokens.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"

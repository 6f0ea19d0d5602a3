"""Prometheus metrics common to every service.

Defined once per process with a `service` label, so several services can share
a test process without clashing registrations. Dashboards and alert rules in
deploy/ use exactly these names.
"""
from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response

from .context import current_correlation_id, reset_correlation_id, set_correlation_id

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EVENTS_PUBLISHED = Counter(
    "events_published_total", "Events published by the outbox relay", ["service", "topic"])
EVENTS_PUBLISH_FAILURES = Counter(
    "events_publish_failures_total", "Relay batches that failed to publish", ["service"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled by consumers",
    ["service", "consumer", "type", "outcome"])  # outcome: processed|duplicate|ignored|dead_lettered
EVENTS_RETRIED = Counter(
    "events_retried_total", "Consumer attempts that failed and were retried", ["service", "consumer"])
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Messages sent to a dead-letter topic", ["service", "topic"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Unpublished outbox events", ["service"])
EVENTS_REPLAYED = Counter(
    "events_replayed_total", "Outbox events published again because the broker came back empty", ["service"])
PROJECTION_EARLY_EVENTS = Counter(
    "projection_events_early_total", "Events that arrived ahead of an earlier version and were held back",
    ["projection"])
PROJECTION_GAP_WAITING = Gauge(
    "projection_gap_waiting_events", "Events held back by this process's projections, waiting for an earlier one",
    ["projection"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event", ["service"])
BUSINESS_EVENTS = Counter(
    "business_operations_total", "Business operations by kind and outcome",
    ["service", "operation", "outcome"])
RETENTION_PURGED = Counter(
    "retention_rows_purged_total", "Rows deleted by the retention job, per table", ["service", "table"])
RETENTION_LAST_RUN = Gauge(
    "retention_last_run_timestamp_seconds", "When the retention job last finished a run (Unix time)", ["service"])
RETENTION_FAILURES = Counter(
    "retention_failures_total", "Retention runs that failed (retried at the next interval)", ["service"])


class MetricsMiddleware:
    """Counts requests and latency by route template (never the raw path, so
    ids in URLs do not explode the label set), and carries the correlation id
    of the request (X-Correlation-ID in and out).

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs a task and
    a stream copy per request on a path every request takes.
    """

    def __init__(self, app, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500
        headers = dict(scope.get("headers") or ())
        token = set_correlation_id((headers.get(b"x-correlation-id") or b"").decode("latin-1"))

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-correlation-id", (current_correlation_id() or "").encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, scope["method"], path, str(status)).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], path).observe(time.perf_counter() - start)
            reset_correlation_id(token)


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

"""Settings every service has; each service subclasses with its own env prefix."""
from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Common settings. Defaults are the safe production ones; the local
    platform and the tests override what the embedded broker cannot do."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/service.db"
    migrate_on_start: bool = True
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Idempotent producer: on for Apache Kafka; the local Tansu broker rejects it.
    kafka_idempotence: bool = True
    # Partitions and replication of topics this service creates if missing.
    kafka_partitions: int = 3
    kafka_replication: int = 1
    kafka_session_timeout_ms: int = 10000
    kafka_heartbeat_interval_ms: int = 3000
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    token_issuer: str = "manager-identity"
    token_audience: str = "manager"
    # Off = HTTP only (tests that feed events by hand; an API-only replica).
    consumers_enabled: bool = True
    consumer_max_attempts: int = 5
    consumer_backoff_base: float = 0.2
    relay_batch_size: int = 500
    # One relay per service publishes at a time (per-key order with several
    # replicas); a stopped or hung holder is replaced after this long.
    relay_lease_seconds: float = 10.0
    # A broker that came back empty (the embedded one keeps everything in
    # memory) gets the outbox rows of the last RELAY_REPLAY_WINDOW_HOURS again;
    # consumers skip what they already applied. Keep it within the retention
    # of published outbox rows and of the consumers' inbox. Off by default: a
    # durable Kafka keeps its topics, and the relay would need to create and
    # write the marker topic; the local platform and the tests turn it on.
    relay_replay_on_new_broker: bool = False
    relay_replay_window_hours: float = 168
    # notifications' current seal public key (base64url X25519): codes and
    # tokens in events are sealed to it. A producer of such events
    # (identity, organizations) refuses to start without it.
    notifications_seal_key: str = ""
    # A published outbox row's sealed fields are erased this long after
    # publication (a replay of the outbox within it still carries them; one
    # after it sends no code: the user asks again, the admin re-invites).
    outbox_redact_after_seconds: float = 3600.0
    # Retention: every replica runs the purge every
    # RETENTION_INTERVAL_SECONDS (0 = never) in batches of RETENTION_BATCH_SIZE.
    # Published outbox rows are kept RETENTION_OUTBOX_DAYS (never less than the
    # relay's replay window), inbox records RETENTION_INBOX_DAYS (never less
    # than the outbox's plus a day: a replayed event must still be recognised).
    retention_interval_seconds: float = 3600.0
    retention_batch_size: int = 1000
    retention_outbox_days: float = 7.0
    retention_inbox_days: float = 30.0
    # Ended sessions' ids are kept this long (their access tokens live minutes).
    retention_ended_sessions_hours: float = 24.0
    # /readyz answers within this (503 naming the check that did not answer in time).
    readiness_timeout_seconds: float = 0.8
    # Larger request bodies are refused with 413 before they are read (1 MiB).
    max_request_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"

"""Composition root of notifications: settings, runtime, service, delivery worker, app."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from manager_shared.clock import Clock, SystemClock
from manager_shared.runtime import ServiceRuntime
from manager_shared.sealing import Keyring

from . import __version__, api, consumers
from .config import Settings
from .delivery import DLQ_TOPIC, DeliveryWorker
from .mailer import SmtpMailer
from .sms import SmsTransport, gateway_from
from .models import CANCELLED, DEAD, SENT, Message, blocked_table, ended_table, inbox_table, outbox_table
from .service import QUEUED_FLAG, NotificationService

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _delivery_log_retention(runtime: ServiceRuntime, settings: Settings) -> None:
    """X-06: finished messages (sent or dead) leave the delivery log after
    RETENTION_MESSAGES_DAYS; a message still to send never goes."""
    messages = Message.__table__
    days = max(settings.retention_messages_days, settings.retention_inbox_days)
    runtime.retention.keep_for(messages, messages.c.created_at, timedelta(days=days),
                               also=lambda _now: messages.c.status.in_((SENT, DEAD, CANCELLED)))


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    runtime = ServiceRuntime("notifications", settings, outbox_table=outbox_table, inbox_table=inbox_table,
                             migrations=MIGRATIONS, blocked_table=blocked_table, ended_table=ended_table)
    # Opens the codes and tokens sealed to this service; no key, no start.
    keyring = Keyring.from_setting(settings.seal_private_keys.get_secret_value() if settings.seal_private_keys
                                   else None)
    service = NotificationService(clock=clock, default_language=settings.default_language,
                                  default_time_zone=settings.default_time_zone, keyring=keyring,
                                  billing_operator_email=settings.billing_operator_email.strip(),
                                  billing_operator_language=settings.billing_operator_language,
                                  delays={"payment_reminder": timedelta(minutes=settings.payment_reminder_minutes),
                                          "invoice_mail": timedelta(minutes=settings.invoice_mail_delay_minutes)})
    consumer = consumers.register(runtime, service)
    _delivery_log_retention(runtime, settings)

    async def publish(body: bytes, topic: str, key: bytes, headers: dict[str, str]) -> None:
        await runtime.broker.publish(body, topic, key=key, headers=headers)

    transports = {"email": SmtpMailer(settings), "sms": SmsTransport(gateway_from(settings))}
    worker = DeliveryWorker(runtime.db, transports, clock, settings, publish)
    # a consumer just queued a message: no need to wait for the next poll
    runtime.db.on_commit(QUEUED_FLAG, worker.wake)
    # the worker publishes dead letters: it runs while the broker is up
    runtime.on_started(_async(worker.start))
    runtime.on_shutdown(worker.stop)
    runtime.produces(DLQ_TOPIC)
    app = runtime.create_app(version=__version__, routers=[api.router],
                             description="E-mail and SMS messages made from the platform's events, "
                                         "and their delivery log.")
    app.state.notifications, app.state.delivery, app.state.consumer = service, worker, consumer
    return app


def _async(fn):
    async def run() -> None:
        fn()
    return run

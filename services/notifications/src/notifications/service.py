"""notifications' business rules: keep the contact and organization
projections, turn events into queued messages, show the delivery log. Never
commits (the caller's unit of work does) and never sends: the delivery
worker does (delivery.py)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.clock import Clock
from manager_shared.events import (AccountPreferencesChanged, AccountRegistered, Event, LoginEmailChanged,
                                   MemberAdded, MemberRemoved, MemberRightsChanged, MemberRoleChanged,
                                   MemberTwoFactorStatusChanged, OrganizationCreated, OrganizationDeleted,
                                   OrganizationDetailsChanged, ProductAdded, ProductRemoved)
from manager_shared.sealing import Keyring, open_event

from . import repository as repo
from .attachments import stored
from .catalog import (CATALOG, EXPECTED_ACCOUNTS, MANAGING_ROLES, RECIPIENT_CACHE, SETTLES, Addressee, Directory,
                      MessageKind)
from .errors import NotAnOrganizationManager, NotYourMessages
from .metrics import MESSAGES
from .models import PENDING, Message
from .rendering import Renderer

log = logging.getLogger(__name__)

QUEUED_FLAG = "notifications_queued"
PENDING_ROWS = "notifications_rows"


def _write_queued(sync_session) -> None:
    """before_commit: the transaction's messages in one INSERT (runs inside
    the async session's greenlet, so the synchronous API is allowed)."""
    rows = sync_session.info.pop(PENDING_ROWS, None)
    if rows:
        repo.add_messages(sync_session.connection(), rows)


def expect(events: Sequence[Event]):
    """Tell lookups which accounts a batch names (reset with EXPECTED_ACCOUNTS.reset)."""
    return EXPECTED_ACCOUNTS.set(frozenset(a for e in events if (a := getattr(e, "account_id", None))))

Projection = Callable[[AsyncSession, Event], Awaitable[None]]


@dataclass
class NotificationService:
    clock: Clock
    renderer: Renderer = field(default_factory=Renderer)
    catalog: Mapping[type[Event], tuple[MessageKind, ...]] = field(default_factory=lambda: dict(CATALOG))
    default_language: str = "en"
    default_time_zone: str = "Europe/Zurich"
    # Opens sealed codes and tokens; None: only in-process clear ones (unit tests).
    keyring: Keyring | None = None
    # Operators' messages (a bank payment nobody could match): empty = not sent.
    billing_operator_email: str = ""
    billing_operator_language: str = "en"
    # Delays of held-back messages, by the name a MessageKind gives (settings).
    delays: Mapping[str, timedelta] = field(default_factory=dict)

    # --- projections ------------------------------------------------------

    @property
    def projections(self) -> dict[type[Event], Projection]:
        """Events that change what this service knows of accounts and organizations."""
        return {AccountRegistered: self.remember_account, AccountPreferencesChanged: self.remember_preferences,
                LoginEmailChanged: self.remember_login_email, OrganizationCreated: self.remember_organization,
                OrganizationDetailsChanged: self.remember_organization, OrganizationDeleted: self.forget_organization,
                MemberAdded: self.remember_member, MemberRoleChanged: self.remember_member,
                MemberTwoFactorStatusChanged: self.remember_member_two_factor, MemberRemoved: self.forget_member,
                MemberRightsChanged: self.remember_member_rights, ProductAdded: self.remember_product,
                ProductRemoved: self.forget_product}

    def handled(self) -> set[type[Event]]:
        return set(self.catalog) | set(self.projections) | set(SETTLES)

    async def handle(self, session: AsyncSession, event: Event) -> None:
        """Messages first, then the projection: a message about a removal or a
        deletion still reaches the people it concerns. An event that settles
        what a held-back message is about cancels it first."""
        if type(event) in SETTLES:
            await self.settle(session, SETTLES[type(event)](event))
        if type(event) in self.catalog:
            await self.notify(session, event)
        projection = self.projections.get(type(event))
        if projection is not None:
            await projection(session, event)

    @staticmethod
    def _changed(session: AsyncSession, account_id: uuid.UUID) -> None:
        session.info.get(RECIPIENT_CACHE, {}).pop(account_id, None)

    async def remember_account(self, session: AsyncSession, event: AccountRegistered) -> None:
        """Start (or refresh) the account's contact data; an older version
        than the one kept changes nothing."""
        self._changed(session, event.account_id)
        await repo.upsert_recipient(session, {
            "account_id": event.account_id, "email": event.email, "first_name": event.first_name,
            "language": event.language, "time_zone": event.time_zone, "version": event.account_version,
            "updated_at": self.clock.now()})

    async def remember_preferences(self, session: AsyncSession, event: AccountPreferencesChanged) -> None:
        """Language, time zone and alert choices (IDN-10/11, NTF-05); a late
        or repeated event (lower or equal version) changes nothing."""
        self._changed(session, event.account_id)
        await repo.update_recipient(session, event.account_id, event.account_version, {
            "language": event.language, "time_zone": event.time_zone,
            "disabled_alerts": ",".join(event.disabled_alerts), "updated_at": self.clock.now()})

    async def remember_login_email(self, session: AsyncSession, event: LoginEmailChanged) -> None:
        """Later mail goes to the confirmed new login address (IDN-06)."""
        self._changed(session, event.account_id)
        await repo.update_recipient(session, event.account_id, event.account_version, {
            "email": event.new_email, "updated_at": self.clock.now()})

    # An organization's events share its partition (key) and are published in
    # order; the inbox makes a redelivery a no-op. Members take each field
    # from the newest org_version only, so an early or replayed one cannot
    # undo a later one.

    async def remember_organization(self, session: AsyncSession,
                                    event: OrganizationCreated | OrganizationDetailsChanged) -> None:
        await repo.upsert_organization(session, event.organization_id, event.name, self.clock.now())

    async def forget_organization(self, session: AsyncSession, event: OrganizationDeleted) -> None:
        await repo.delete_organization(session, event.organization_id)

    async def remember_member(self, session: AsyncSession, event: MemberAdded | MemberRoleChanged) -> None:
        now = self.clock.now()
        if getattr(event, "organization_name", None):  # known even if OrganizationCreated predates us
            await repo.upsert_organization(session, event.organization_id, event.organization_name, now)
        added = isinstance(event, MemberAdded)
        await repo.upsert_member(session, event.organization_id, event.account_id, event.role, now,
                                 event.two_factor_enabled if added else None, event.org_version,
                                 accounting=event.accounting if added else None)

    async def remember_member_two_factor(self, session: AsyncSession, event: MemberTwoFactorStatusChanged) -> None:
        await repo.set_member_two_factor(session, event.organization_id, event.account_id, event.two_factor_enabled,
                                         self.clock.now(), event.org_version)

    async def remember_member_rights(self, session: AsyncSession, event: MemberRightsChanged) -> None:
        """Only the accounting right matters here (ORG-08: who hears about money)."""
        await repo.upsert_member(session, event.organization_id, event.account_id, None, self.clock.now(),
                                 None, event.org_version, accounting=event.accounting)

    async def remember_product(self, session: AsyncSession, event: ProductAdded) -> None:
        # (names are at most a domain's 253 characters; cut, never refused: it is only for display)
        await repo.upsert_product(session, event.product_id, event.organization_id, event.name[:253],
                                  self.clock.now())

    async def forget_product(self, session: AsyncSession, event: ProductRemoved) -> None:
        await repo.delete_product(session, event.product_id)

    async def forget_member(self, session: AsyncSession, event: MemberRemoved) -> None:
        await repo.remove_member(session, event.organization_id, event.account_id, self.clock.now(),
                                 event.org_version)

    # --- messages -----------------------------------------------------------

    async def notify(self, session: AsyncSession, event: Event) -> int:
        """Queue the messages `event` calls for (NTF-01); returns how many.
        Runs in the consumer's transaction, beside its inbox record, so
        recipients are resolved from the projections as they are now; the
        rows are written when that transaction commits, and one the event
        already made (same event, recipient, channel) is skipped then."""
        # Codes and tokens opened for rendering only: `event` is never stored or logged.
        event = open_event(event, self.keyring)
        directory = Directory(session, self.default_language, self.default_time_zone,
                              self.billing_operator_email, self.billing_operator_language)
        context = {"organization_name": await self._organization_name(session, event),
                   "product_name": await self._product_name(session, event)}
        queued = 0
        for kind in self.catalog[type(event)]:
            for addressee in await kind.recipients(directory, event):
                if kind.wanted_by(addressee, event.type) and await self._queue(session, event, kind, addressee,
                                                                              context):
                    queued += 1
        return queued

    async def _organization_name(self, session: AsyncSession, event: Event) -> str:
        organization_id = getattr(event, "organization_id", None)
        found = await repo.organization(session, organization_id) if organization_id else None
        return found.name if found else str(getattr(event, "organization_name", None) or getattr(event, "name", ""))

    async def settle(self, session: AsyncSession, ref: str) -> None:
        """Cancel the held-back messages about `ref` not sent yet: those this very
        transaction queued (not written until it commits) and those in the log."""
        rows = session.info.get(PENDING_ROWS) or []
        rows[:] = [row for row in rows if row["ref"] != ref]
        await repo.cancel_unsent(session, ref, self.clock.now())

    async def _product_name(self, session: AsyncSession, event: Event) -> str:
        """The product's name as the event gives it, else from the registry projection ("" if unknown)."""
        given = getattr(event, "product_name", None)
        product_id = getattr(event, "product_id", None)
        if given or product_id is None:
            return given or ""
        return await repo.product_name(session, product_id) or ""

    async def _queue(self, session: AsyncSession, event: Event, kind: MessageKind, to: Addressee,
                     context: dict) -> bool:
        now = send_at = self.clock.now()
        if kind.delay:
            # Counted from the fact, not from when a lagging consumer saw it.
            send_at = max(now, event.occurred_at + self.delays.get(kind.delay, timedelta()))
            deadline = getattr(event, "expires_at", None)
            if deadline is not None and send_at >= deadline:
                return False  # by then it has expired: the failure message tells it
        rendered = self.renderer.render(kind.template, to.language, to.time_zone, channel=kind.channel,
                                        event=event, to=to, **context)
        rows = session.info.get(PENDING_ROWS)
        if rows is None:
            rows = session.info[PENDING_ROWS] = []
            sa_event.listen(session.sync_session, "before_commit", _write_queued, once=True)
        rows.append({
            "event_id": event.event_id, "event_type": event.type, "recipient": to.key,
            "account_id": to.account_id,
            # An operator's copy stays out of the organization's own delivery log.
            "organization_id": getattr(event, "organization_id", None) if kind.in_organization_log else None,
            "address": to.address, "channel": kind.channel, "template": kind.template,
            "language": rendered.language, "subject": rendered.subject, "body_text": rendered.text,
            "body_html": rendered.html, "secret": kind.secret, "status": PENDING, "attempts": 0,
            "attachments": stored(kind.attachments(event)) if kind.attachments else None,
            "created_at": now, "next_attempt_at": send_at, "ref": kind.ref(event) if kind.ref else None})
        MESSAGES.labels(kind.channel, PENDING).inc()
        session.info[QUEUED_FLAG] = True  # wakes the delivery worker once this transaction commits
        return True

    # --- delivery log -------------------------------------------------------------

    async def delivery_log(self, session: AsyncSession, caller: Principal, account_id: uuid.UUID | None,
                           limit: int, before: int | None,
                           organization_id: uuid.UUID | None = None) -> Sequence[Message]:
        """Messages of one account, or about one organization, newest first
        (NTF-04). An account reads its own; an organization's log is for its
        legal representatives and administrators (local membership projection)."""
        if organization_id is not None:
            if await repo.role_of(session, organization_id, caller.account_id) not in MANAGING_ROLES:
                raise NotAnOrganizationManager()
            return await repo.messages_of(session, None, limit, before, organization_id=organization_id)
        account_id = account_id or caller.account_id
        if account_id != caller.account_id:
            raise NotYourMessages()
        return await repo.messages_of(session, account_id, limit, before)

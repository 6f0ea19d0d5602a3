"""Messages from Jinja2 templates, localized with Babel (NTF-02).

Each e-mail has, per language, `<template>/<lang>.subject.txt`,
`<lang>.txt` and `<lang>.html` (only the .html ones are autoescaped); an
SMS has only `<lang>.txt`. Dates, times and money are formatted by Babel in
the recipient's locale and time zone (filters `datetime`, `date`, `time`,
`money`, `country`; and `hint`, `role`, `org_kind`, `label`, `reference`).
Every value printed by a template goes through `defang`, so text that comes
from users or attackers (a name, a device string) can never become a link
in a security e-mail (IDN-09).
"""
from __future__ import annotations

import re
import functools
from decimal import Decimal
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, get_currency_precision
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from markupsafe import Markup

from .labels import label
from .models import LANGUAGES

TEMPLATES = Path(__file__).resolve().parent / "templates"
PARTS = ("subject.txt", "txt", "html")
PARTS_BY_CHANNEL = {"email": PARTS, "sms": ("txt",)}
FALLBACK_LANGUAGE = "en"

_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(//)")
_DOT_BEFORE_NAME = re.compile(r"(?i)(?<=[a-z0-9-])\.(?=[a-z][a-z0-9-]*)")


def defang(value: Any) -> Any:
    """Make URLs, host names and addresses unclickable: `https://x.example`
    becomes `https[:]//x[.]example`, which no mail client turns into a link."""
    if not isinstance(value, str):
        return value
    cleaned = _DOT_BEFORE_NAME.sub("[.]", _SCHEME.sub(r"\1[:]\2", value))
    return Markup(cleaned) if isinstance(value, Markup) else cleaned


@dataclass(frozen=True)
class Rendered:
    language: str  # the one used: the recipient's, or English for an unknown one
    subject: str  # empty for an SMS
    text: str
    html: str | None  # None for an SMS


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@pass_context
def _datetime(ctx, value: datetime, format: str = "full") -> str:
    return format_datetime(value, format, tzinfo=zone(ctx["time_zone"]), locale=ctx["lang"])


@pass_context
def _date(ctx, value: date, format: str = "long") -> str:
    """A moment as the day it is in the recipient's zone; a calendar day (a due date) as is."""
    if isinstance(value, datetime):
        value = value.astimezone(zone(ctx["time_zone"]))
    return format_date(value, format, locale=ctx["lang"])


@pass_context
def _time(ctx, value: datetime, format: str = "short") -> str:
    return format_time(value, format, tzinfo=zone(ctx["time_zone"]), locale=ctx["lang"])


@functools.lru_cache(maxsize=256)
def money_locale(lang: str, time_zone: str | None) -> str:
    """The language as written where the recipient lives (the country of
    their time zone): de + Europe/Zurich → de_CH ("CHF 1’234.50"), de +
    Europe/Berlin → de_DE; the bare language when CLDR has no such locale."""
    territory = get_global("zone_territories").get(time_zone or "")
    if territory:
        try:
            return str(Locale.parse(f"{lang}_{territory}"))
        except (UnknownLocaleError, ValueError):
            pass
    return lang


@pass_context
def _money(ctx, minor_units: int, currency: str) -> str:
    """Integer minor units (never a float) in the recipient's locale: 123450 CHF → "CHF 1’234.50" in de_CH."""
    if isinstance(minor_units, float):
        raise TypeError("money is integer minor units, never a float")
    amount = Decimal(minor_units).scaleb(-get_currency_precision(currency))
    return format_currency(amount, currency, locale=money_locale(ctx["lang"], ctx["time_zone"]))


def _reference(value: str | None) -> str:
    """A payment reference as e-banking shows it, easy to type: a Swiss QR
    reference (27 digits) in 2 + 5×5 digits, an ISO 11649 one (RF…) in fours."""
    ref = (value or "").replace(" ", "")
    if len(ref) == 27 and ref.isdigit():
        return " ".join([ref[:2]] + [ref[i:i + 5] for i in range(2, 27, 5)])
    if ref[:2].upper() == "RF":
        return " ".join(ref[i:i + 4] for i in range(0, len(ref), 4))
    return value or ""


def _hint(address: str | None) -> str:
    """An e-mail address shown, not given away: `anna.muster@example.ch` → `a•••@example[.]ch`."""
    local, _, domain = (address or "").partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


ROLES = {
    "legal_representative": {"fr": "représentant légal", "en": "legal representative", "de": "gesetzlicher Vertreter",
                             "it": "rappresentante legale", "es": "representante legal"},
    "administrator": {"fr": "administrateur", "en": "administrator", "de": "Administrator",
                      "it": "amministratore", "es": "administrador"},
    "collaborator": {"fr": "collaborateur", "en": "collaborator", "de": "Mitarbeiter",
                     "it": "collaboratore", "es": "colaborador"},
    "external": {"fr": "utilisateur externe", "en": "external user", "de": "externer Benutzer",
                 "it": "utente esterno", "es": "usuario externo"},
}


ORGANIZATION_KINDS = {
    "private": {"fr": "privée", "en": "private", "de": "privat", "it": "privata", "es": "privada"},
    "association": {"fr": "association", "en": "association", "de": "Verein", "it": "associazione",
                    "es": "asociación"},
    "company": {"fr": "entreprise", "en": "company", "de": "Unternehmen", "it": "azienda", "es": "empresa"},
    "public_body": {"fr": "organisme public", "en": "public body", "de": "öffentliche Körperschaft",
                    "it": "ente pubblico", "es": "organismo público"},
    "other": {"fr": "autre", "en": "other", "de": "andere", "it": "altro", "es": "otro"},
}


@pass_context
def _role(ctx, role: str | None) -> str:
    return ROLES.get(role or "", {}).get(ctx["lang"], role or "")


@pass_context
def _organization_kind(ctx, kind: str | None) -> str:
    return ORGANIZATION_KINDS.get(kind or "", {}).get(ctx["lang"], kind or "")


@pass_context
def _country(ctx, code: str | None) -> str:
    if not code:
        return ""
    return Locale.parse(ctx["lang"]).territories.get(code.upper(), code)


class Renderer:
    """Renders a template in a language and time zone."""

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self.env = Environment(
            # Templates ship with the code: no file-system check on every render.
            loader=FileSystemLoader(directory), autoescape=select_autoescape(["html"]), auto_reload=False,
            undefined=StrictUndefined, finalize=defang, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True)
        self.env.filters.update(datetime=_datetime, date=_date, time=_time, money=_money, country=_country,
                                hint=_hint, role=_role, org_kind=_organization_kind, label=label,
                                reference=_reference)

    def names(self, template: str, lang: str, channel: str = "email") -> list[str]:
        return [f"{template}/{lang}.{part}" for part in PARTS_BY_CHANNEL[channel]]

    def render(self, template: str, lang: str, time_zone: str, channel: str = "email", **context: Any) -> Rendered:
        lang = lang if lang in LANGUAGES else FALLBACK_LANGUAGE
        # What the service gives every message, empty when unknown (e.g. a product not in the registry).
        values = {"product_name": "", **context, "lang": lang, "time_zone": time_zone}
        parts = [self.env.get_template(n).render(values) for n in self.names(template, lang, channel)]
        if channel == "sms":
            return Rendered(language=lang, subject="", text=" ".join(parts[0].split()), html=None)
        subject, text, html = parts
        # One line, whatever the template or the data did: a header cannot hold a newline.
        return Rendered(language=lang, subject=" ".join(subject.split())[:300], text=text, html=html)

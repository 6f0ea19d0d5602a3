"""Unit tests of the messages themselves: languages, time zones, no links."""
from __future__ import annotations

import re
import uuid

import pytest

from notifications.catalog import CATALOG, Addressee
from notifications.models import LANGUAGES
from notifications.rendering import Renderer, defang

SUBJECTS = {
    "fr": "Nouvelle connexion à votre compte Manager",
    "en": "New sign-in to your Manager account",
    "de": "Neue Anmeldung bei Ihrem Manager-Konto",
    "it": "Nuovo accesso al tuo account Manager",
    "es": "Nuevo inicio de sesión en tu cuenta Manager",
}
# 2026-03-05 14:04:05 UTC, in the recipient's zone and words.
WHEN = {
    ("fr", "Europe/Zurich"): "jeudi 5 mars 2026, 15:04:05",
    ("en", "America/New_York"): "Thursday, March 5, 2026, 9:04:05\u202fAM",
    ("de", "Europe/Berlin"): "Donnerstag, 5. März 2026, 15:04:05",
    ("it", "Europe/Rome"): "giovedì 5 marzo 2026 15:04:05",
    ("es", "Atlantic/Canary"): "jueves, 5 de marzo de 2026, 14:04:05",
}
COUNTRY = {"fr": "Suisse", "en": "Switzerland", "de": "Schweiz", "it": "Svizzera", "es": "Suiza"}
WHERE_TO_LOOK = {"fr": "Activité récente", "en": "Recent activity", "de": "Letzte Aktivitäten",
                 "it": "Attività recenti", "es": "Actividad reciente"}
IF_NOT_YOU = {  # change the password, turn on 2FA
    "fr": ("changez votre mot de passe", "authentification à deux facteurs"),
    "en": ("change your password", "two-factor authentication"),
    "de": ("ändern Sie Ihr Passwort", "Zwei-Faktor-Authentifizierung"),
    "it": ("cambia la tua password", "autenticazione a due fattori"),
    "es": ("cambia tu contraseña", "autenticación de dos factores"),
}
# Anything a mail client would make clickable: a URL, a bare host name, an address.
URL = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|www\.|mailto:|\b[a-z0-9-]+\.(com|net|org|ch|example)\b|(?<!•)@")
TAG = re.compile(r"(?i)<a[\s>]|<[a-z][^>]*\s(href|src|action)\s*=|<form|<script")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def render(renderer, events, lang, time_zone="Europe/Zurich", first_name="Anna", **event):
    to = Addressee(key="k", address="anna@example.com", first_name=first_name, language=lang, time_zone=time_zone)
    return renderer.render("login_from_new_location", lang, time_zone,
                           event=events.new_location(uuid.uuid4(), **event), to=to)


@pytest.mark.parametrize(("lang", "time_zone"), list(WHEN))
def test_ntf_02_new_location_mail_in_each_language(renderer, events, lang, time_zone):
    out = render(renderer, events, lang, time_zone)
    assert out.language == lang
    assert out.subject == SUBJECTS[lang]
    for body in (out.text, out.html):
        assert WHEN[(lang, time_zone)] in body
        assert f"Lausanne, {COUNTRY[lang]}" in body
        assert "Firefox on Windows" in body and "203.0.113.7" in body
        assert "Anna" in body
    assert f'<html lang="{lang}">' in out.html


def test_ntf_02_unknown_place_is_said_in_the_language(renderer, events):
    out = render(renderer, events, "de", country=None, city=None)
    assert "Ort:         unbekannter Ort" in out.text
    assert "<td>unbekannter Ort</td>" in out.html


def test_ntf_02_unknown_language_or_zone_falls_back(renderer, events):
    out = render(renderer, events, "xx", time_zone="Mars/Olympus")
    assert out.language == "en" and out.subject == SUBJECTS["en"]
    assert "2:04:05\u202fPM" in out.text  # UTC


@pytest.mark.parametrize("lang", LANGUAGES)
def test_idn_09_security_mail_has_no_link(renderer, events, lang):
    out = render(renderer, events, lang, first_name='<a href="https://evil.example/login">Anna</a>',
                 device="Chrome https://evil.example/reset www.evil.example", city="evil.example")
    for part in (out.subject, out.text, out.html):
        assert not URL.search(part), part
    assert not TAG.search(out.html), out.html  # (the text part may show "<a href" as letters)
    assert "&lt;a href" in out.html  # the name is shown, escaped, never a tag
    assert "https[:]//evil[.]example/reset" in out.text
    # It says where to look instead, and what to do if it was not you.
    assert WHERE_TO_LOOK[lang] in out.text and WHERE_TO_LOOK[lang] in out.html
    for phrase in IF_NOT_YOU[lang]:
        assert phrase in out.text and phrase in out.html


def test_idn_09_defang_leaves_ordinary_text_alone():
    assert defang("Firefox on Windows") == "Firefox on Windows"
    assert defang("203.0.113.7 / 2001:db8::1") == "203.0.113.7 / 2001:db8::1"
    assert defang("Donnerstag, 5. März 2026") == "Donnerstag, 5. März 2026"
    assert defang("see http://a.example.com") == "see http[:]//a[.]example[.]com"


def test_ntf_01_every_message_has_templates_in_every_language(renderer):
    missing = []
    for event_type, kinds in CATALOG.items():
        for kind, lang in ((k, lang) for k in kinds for lang in LANGUAGES):
            for name in renderer.names(kind.template, lang, kind.channel):
                try:
                    renderer.env.loader.get_source(renderer.env, name)
                except Exception:
                    missing.append(f"{event_type.__name__}: {name}")
    assert not missing, "templates missing:\n" + "\n".join(missing)


FAILED_SUBJECTS = {
    "fr": "Tentative de connexion échouée sur votre compte Manager",
    "en": "Failed sign-in attempt on your Manager account",
    "de": "Fehlgeschlagener Anmeldeversuch bei Ihrem Manager-Konto",
    "it": "Tentativo di accesso non riuscito al tuo account Manager",
    "es": "Intento fallido de inicio de sesión en tu cuenta Manager",
}


@pytest.mark.parametrize("lang", sorted(FAILED_SUBJECTS))
def test_ntf_01_idn_08_failed_attempt_mail_in_each_language(renderer, lang):
    from datetime import datetime, timezone

    from manager_shared.events import LoginFailed

    to = Addressee(key="k", address="anna@example.com", first_name="Anna", language=lang, time_zone="Europe/Zurich")
    for country, attempts in (("CH", 4), (None, 1)):
        event = LoginFailed(account_id=uuid.uuid4(), account_version=1, ip="80.128.1.1", country=country,
                            device="Firefox on Windows", attempts=attempts,
                            failed_at=datetime(2026, 3, 5, 14, 4, 5, tzinfo=timezone.utc))
        out = renderer.render("login_failed", lang, "Europe/Zurich", event=event, to=to)
        assert out.subject == FAILED_SUBJECTS[lang]
        for body in (out.text, out.html):
            assert "2026" in body and ":04:05" in body and "14:04" not in body  # Zurich time, not UTC
            assert (COUNTRY[lang] in body) == (country == "CH")
            assert ("(4 " in body) == (attempts == 4)
            assert not URL.search(body.replace("80.128.1.1", "")) and not TAG.search(body)
            assert WHERE_TO_LOOK[lang] in body


@pytest.mark.parametrize("event_type", list(CATALOG), ids=lambda e: e.__name__)
@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_idn_09_every_catalog_message_renders_without_links(renderer, events, event_type, lang):
    to = Addressee(key="k", address="anna@example.com", first_name="Anna", language=lang, time_zone="Europe/Zurich")
    event = events.sample(event_type, uuid.uuid4())
    for kind in CATALOG[event_type]:
        out = renderer.render(kind.template, lang, "Europe/Zurich", channel=kind.channel, event=event, to=to,
                              organization_name="Muster & Söhne AG")
        bodies = [out.text] if kind.channel == "sms" else [out.subject, out.text, out.html]
        assert bodies[0].strip() and "{{" not in "".join(bodies) and "{%" not in "".join(bodies)
        if kind.channel == "email":
            assert "Anna" in out.text and "Anna" in out.html
        for body in bodies:
            assert not URL.search(body) and not TAG.search(body), (kind.template, lang, body)


def test_ntf_02_money_in_the_recipients_locale(renderer):
    """Integer minor units in, the language's format out (Babel/CLDR), with
    the currency's own number of decimals."""
    template = renderer.env.from_string("{{ amount|money(currency) }}")
    cases = {("de", "CHF"): "1.234,50\xa0CHF", ("fr", "EUR"): "1\u202f234,50\xa0€", ("en", "EUR"): "€1,234.50",
             ("it", "EUR"): "1.234,50\xa0€", ("es", "EUR"): "1.234,50\xa0€", ("en", "JPY"): "¥123,450"}
    for (lang, currency), expected in cases.items():
        assert template.render(amount=123450, currency=currency, lang=lang, time_zone="UTC") == expected, lang


def test_idn_09_address_hint_gives_no_address_away(renderer):
    template = renderer.env.from_string("{{ a|hint }}")
    assert template.render(a="anna.muster@example.ch", lang="en", time_zone="UTC") == "a•••@example[.]ch"

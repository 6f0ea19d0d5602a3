"""IDN-14a TOTP rules as pure functions: the window is one step either side
(a code of the next step accepted, two steps ahead refused, as two behind
are), each step accepted once and never an earlier one after it, malformed
codes refused without a crash (X-03); the enrolment's secret, URI and QR;
the emergency codes' shape."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest

from identity import totp

NOW = datetime(2026, 3, 5, 12, 0, 10, tzinfo=timezone.utc)
STEP = int(NOW.timestamp()) // 30
SECRET = base64.b32encode(b"12345678901234567890").decode()


def code(step: int) -> str:
    return pyotp.TOTP(SECRET).generate_otp(step)


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False),
                                                  (3, False)])
def test_idn_14a_window_is_one_step_either_side(offset, accepted):
    assert totp.matching_step(SECRET, code(STEP + offset), NOW, 0) == (STEP + offset if accepted else None)


def test_idn_14a_next_step_code_accepted_at_the_end_of_the_current_step():
    end = datetime.fromtimestamp((STEP + 1) * 30 - 1, tz=timezone.utc)  # the last second of STEP
    assert totp.matching_step(SECRET, code(STEP + 1), end, 0) == STEP + 1
    assert totp.matching_step(SECRET, code(STEP + 2), end, 0) is None
    start = datetime.fromtimestamp(STEP * 30, tz=timezone.utc)  # the first second of STEP
    assert totp.matching_step(SECRET, code(STEP - 1), start, 0) == STEP - 1
    assert totp.matching_step(SECRET, code(STEP), start, 0) == STEP


def test_idn_14a_a_step_once_used_and_every_earlier_one_are_refused():
    assert totp.matching_step(SECRET, code(STEP + 1), NOW, STEP) == STEP + 1  # later than the last used
    assert totp.matching_step(SECRET, code(STEP + 1), NOW, STEP + 1) is None  # replay of the next-step code
    assert totp.matching_step(SECRET, code(STEP), NOW, STEP + 1) is None  # an earlier one after it
    assert totp.matching_step(SECRET, code(STEP - 1), NOW, STEP) is None


@pytest.mark.parametrize("typed", ["000000", "１２３４５６", "١٢٣٤٥٦", "12345", "1234567", "", "12 456", "abcdef"])
def test_idn_14a_x_03_wrong_or_malformed_codes_are_refused_without_error(typed):
    assert typed not in {code(STEP + d) for d in (-1, 0, 1)}
    assert totp.matching_step(SECRET, typed, NOW, 0) is None


def test_idn_14a_x_03_the_right_code_in_full_width_digits_is_refused_here_not_a_crash():
    """Normalising typed codes is the request field's job (manager_shared.typed); this function
    only ever compares ASCII, and says no to anything else instead of raising."""
    wide = code(STEP).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert totp.matching_step(SECRET, wide, NOW, 0) is None
    assert totp.matching_step(SECRET, code(STEP) + "0", NOW, 0) is None


def test_idn_14a_new_secrets_are_160_bit_base32_and_differ():
    secrets = {totp.new_secret() for _ in range(5)}
    assert len(secrets) == 5
    for secret in secrets:
        assert len(base64.b32decode(secret)) == 20  # 160 bits, RFC 4226's recommended length
        assert totp.matching_step(secret, pyotp.TOTP(secret).generate_otp(STEP), NOW, 0) == STEP


def test_idn_14a_provisioning_uri_names_the_account_and_the_issuer():
    uri = totp.provisioning_uri(SECRET, "zoe@example.ch")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert unquote(parsed.path) == "/Manager:zoe@example.ch"
    query = parse_qs(parsed.query)
    assert query["secret"] == [SECRET] and query["issuer"] == ["Manager"]
    assert pyotp.parse_uri(uri).now() == pyotp.TOTP(SECRET).now()  # what an authenticator app reads


def test_idn_14a_qr_code_is_an_inline_svg():
    svg = totp.qr_svg(totp.provisioning_uri(SECRET, "zoe@example.ch"))
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_idn_14_emergency_codes_are_four_groups_of_four_unambiguous_symbols():
    codes = totp.new_emergency_codes()
    assert len(codes) == len(set(codes)) == 10
    for shown in codes:
        assert re.fullmatch(r"[a-hj-km-np-z2-9]{4}(-[a-hj-km-np-z2-9]{4}){3}", shown), shown
    assert len(totp.new_emergency_codes(3)) == 3


def test_idn_14_emergency_codes_are_read_however_they_are_typed():
    assert totp.normalize_emergency(" K7QM-4XZP 9WTR-2hbn ") == "k7qm4xzp9wtr2hbn"

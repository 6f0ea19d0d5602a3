"""IDN-01 password rules at their edges: the length limits counted in
characters as typed (NFKC), the blocklist in any case or compatibility
form, and the account's own e-mail address, its local part and its names
in any form (NIST SP 800-63B 3.1.1.2)."""
from __future__ import annotations

import pytest

from identity.errors import WeakPassword
from identity.password_policy import check_password

EMAIL = "anna.muster@example.ch"


def reason(password: str, **names) -> str | None:
    try:
        check_password(password, email=EMAIL, **names)
    except WeakPassword as exc:
        assert exc.status == 422
        return exc.details["reason"]
    return None


def test_idn_01_length_limits_are_8_and_256_characters():
    assert reason("Qx7#mLp") == "too_short"
    assert reason("Qx7#mLp2") is None
    assert reason("Qx7#mLp2" * 32) is None  # 256
    assert reason("Qx7#mLp2" * 32 + "z") == "too_long"


def test_idn_01_length_counts_characters_not_code_points():
    assert reason("e\u0301" * 7) == "too_short"  # 14 code points, 7 letters é once composed
    assert reason("\u00e9" * 8) is None


@pytest.mark.parametrize("password", ["PASSWORD1", "ｐａｓｓｗｏｒｄ１", "  password1  ", "Dragon123"])
def test_idn_01_common_passwords_are_refused_in_any_case_or_width(password):
    assert reason(password) == "too_common"


@pytest.mark.parametrize("password", ["anna.muster@example.ch", "ＡＮＮＡ.ＭＵＳＴＥＲ@EXAMPLE.CH", "Anna.Muster"])
def test_idn_01_own_address_or_its_local_part_is_refused(password):
    assert reason(password) == "contains_personal_data"


def test_idn_01_the_domain_alone_is_no_personal_data():
    assert reason("example.ch") is None


@pytest.mark.parametrize(("password", "names"), [
    ("Hildegunde", {"first_name": "Hildegunde", "last_name": "Ng"}),
    ("ＨＩＬＤＥＧＵＮＤＥ", {"first_name": "hildegunde", "last_name": "Ng"}),
    ("Schwarzenegger", {"first_name": "Al", "last_name": "Schwarzenegger"}),
    ("MaximilianNg", {"first_name": "Maximilian", "last_name": "Ng"}),
    ("Maximilian Ng", {"first_name": "Maximilian", "last_name": "Ng"}),
    ("جل جلاله", {"first_name": "ﷻ", "last_name": "Muster"}),  # a one-character name folding to eight
])
def test_idn_01_own_names_are_refused_in_any_form(password, names):
    assert reason(password, **names) == "contains_personal_data"


def test_idn_01_names_shorter_than_the_password_do_not_refuse_it():
    assert reason("Alpenrose-Matterhorn-42", first_name="Al", last_name="Pen") is None
    assert reason("Alpenrose-Matterhorn-42", first_name="", last_name="") is None

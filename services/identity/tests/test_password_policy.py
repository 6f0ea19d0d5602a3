"""IDN-01 password rules (NIST 800-63B): length, blocklist, personal data."""
from __future__ import annotations

import pytest

from identity.errors import WeakPassword
from identity.password_policy import check_password, common_passwords


@pytest.mark.parametrize(("password", "reason"), [
    ("short7!", "too_short"),
    ("x" * 257, "too_long"),
    ("password1", "too_common"),
    ("Qwertyuiop", "too_common"),  # case does not make a common password safe
    ("iloveyou", "too_common"),
    ("anna.muster@example.ch", "contains_personal_data"),
    ("ANNA.MUSTER", "contains_personal_data"),
    ("Anna Muster", "contains_personal_data"),
])
def test_idn_01_weak_passwords_are_refused_with_a_reason(password, reason):
    with pytest.raises(WeakPassword) as exc:
        check_password(password, email="anna.muster@example.ch", first_name="Anna", last_name="Muster")
    assert exc.value.details["reason"] == reason and exc.value.status == 422


@pytest.mark.parametrize("password", ["Alpenrose-Matterhorn-42", "correct horse battery staple",
                                      "aaaaaaaa-no-rules-just-length", "ü" * 8, "p" * 64, "x" * 256])
def test_idn_01_long_passwords_without_composition_rules_are_accepted(password):
    check_password(password, email="anna.muster@example.ch", first_name="Anna", last_name="Muster")


def test_idn_01_blocklist_covers_at_least_the_10000_most_common():
    assert len(common_passwords()) >= 10_000
    assert {"123456", "password", "qwerty", "letmein", "dragon"} <= common_passwords()

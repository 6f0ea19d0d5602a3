"""IDN-12 recovery phone (E.164, password required, owner told) and the
SMS-code country rule of IDN-14c."""
from __future__ import annotations

import pytest

from identity import phones
from identity.errors import InvalidPhone


@pytest.mark.parametrize(("raw", "e164"), [("+41 79 123 45 67", "+41791234567"), ("+33 6 12 34 56 78", "+33612345678"),
                                          ("+49 1512 3456789", "+4915123456789")])
def test_idn_12_numbers_are_stored_e164(raw, e164):
    assert phones.to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["079 123 45 67", "+41 12", "call me", "+999 123"])
def test_idn_12_invalid_or_prefixless_numbers_are_refused(raw):
    with pytest.raises(InvalidPhone):
        phones.to_e164(raw)


@pytest.mark.parametrize(("e164", "ok"), [("+41791234567", True), ("+33612345678", True), ("+32470123456", True),
                                          ("+4915123456789", True), ("+393123456789", False),
                                          ("+14155552671", False), ("+41441234567", False)])
def test_idn_14c_sms_codes_only_to_ch_fr_be_de_mobiles(e164, ok):
    assert phones.can_receive_sms_codes(e164) is ok


def test_idn_12_hint_shows_only_prefix_and_last_digits():
    assert phones.hint("+41791234567") == "+41 ••• •• 67"

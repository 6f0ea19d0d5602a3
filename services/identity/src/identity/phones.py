"""Phone numbers (IDN-12, IDN-14c): parsed and validated with `phonenumbers`,
stored as E.164."""
from __future__ import annotations

import phonenumbers

from .errors import InvalidPhone

# Countries whose mobile numbers may receive sign-in codes by SMS (IDN-14c).
SMS_COUNTRIES = frozenset({"CH", "FR", "BE", "DE"})


def to_e164(raw: str) -> str:
    """'+41 79 123 45 67' → '+41791234567'; the country prefix is required."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("Give the number with its country prefix, e.g. +41 79 123 45 67.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("This is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def can_receive_sms_codes(e164: str) -> bool:
    number = phonenumbers.parse(e164, None)
    kinds = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
    return (phonenumbers.region_code_for_number(number) in SMS_COUNTRIES
            and phonenumbers.number_type(number) in kinds)


def hint(e164: str) -> str:
    """What may be shown in mails and lists: prefix and last two digits."""
    number = phonenumbers.parse(e164, None)
    return f"+{number.country_code} ••• •• {e164[-2:]}"

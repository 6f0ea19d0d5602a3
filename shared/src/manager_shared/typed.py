"""Codes and tokens as people type them (X-03).

Phones and some keyboards produce full-width or other compatibility forms of
digits and letters (`１２３４５６`). `str.isdigit()` accepts them, and
`hmac.compare_digest` then refuses to compare non-ASCII text (TypeError, a
500). Every one-time code, emergency code, application password and token an
API accepts goes through `TypedCode`: NFKC turns compatibility forms into
their ASCII letters and digits (`１２３４５６` is `123456`); anything still not
ASCII after that (Arabic-Indic digits, other scripts) cannot be one of ours
and is refused with 422 before any check runs.
"""
from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator


def ascii_typed(value: str) -> str:
    """`value` in NFKC, trimmed; ValueError (422 at the API) if it is not ASCII then."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text.isascii():
        raise ValueError("only the digits 0-9, letters a-z and the separators shown are accepted")
    return text


TypedCode = Annotated[str, AfterValidator(ascii_typed)]

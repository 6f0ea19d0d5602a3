"""X-03: an invitation token typed or pasted in full-width forms is read as
its ASCII self (one shared helper, manager_shared.typed), and one in another
script is a 422, never a 500."""
from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from organizations.schemas import InvitationAccept


def test_x_03_invitation_token_in_full_width_is_the_same_token():
    token = secrets.token_urlsafe(32)
    wide = token.translate({ord(c): ord(c) + 0xFEE0 for c in token if "!" <= c <= "~"})
    assert wide != token and InvitationAccept(token=wide).token == token
    with pytest.raises(ValidationError):
        InvitationAccept(token="٣" * 30)

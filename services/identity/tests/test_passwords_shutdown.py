"""X-05: identity's hashing threads end with the app that started them."""
from __future__ import annotations

import pytest

from identity.passwords import Passwords


async def test_x_05_the_hashing_pool_closes_with_the_app(make_client, tmp_path, frozen):
    async with make_client(f"sqlite+aiosqlite:///{tmp_path}/identity.db", frozen) as client:
        passwords = client._transport.app.state.identity.passwords  # noqa: SLF001 - the app's own instance
        assert await passwords.verify(await passwords.hash("Gotthard-Tunnel-Lok-9"), "Gotthard-Tunnel-Lok-9")
    with pytest.raises(RuntimeError, match="shutdown"):
        await passwords.hash("after the app stopped")


async def test_x_05_a_closed_pool_takes_no_more_work():
    passwords = Passwords(memory_kib=8, time_cost=1)
    await passwords.close()
    with pytest.raises(RuntimeError):
        await passwords.verify(None, "anything")

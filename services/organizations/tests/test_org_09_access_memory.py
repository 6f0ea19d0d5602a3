"""ORG-09 over HTTP: the answer comes from memory, kept in step with what this
process commits, what other replicas commit (poll) and blocked accounts."""
from __future__ import annotations

import httpx

from manager_shared.events import AccountBlocked
from manager_shared.testing.fixtures import feed
from organizations.config import Settings
from organizations.main import create_app


async def test_org_09_other_replica_and_blocked_accounts_reach_the_in_memory_check(world, tmp_path, service_env):
    anna = await world.account("Anna")
    org = await world.company(anna)
    carla = await world.join(org, anna, "collaborator", "Carla")
    drive = await world.product(org, "drive")
    url = world.app.state.runtime.settings.database_url
    replica = create_app(Settings(database_url=url, consumers_enabled=False, access_refresh_seconds=3600,
                                  **service_env))
    async with replica.router.lifespan_context(replica):
        world.tokens.trust_in(replica)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica), base_url="http://r") as other:
            async def code_on_replica() -> str:
                r = await other.get(f"/v1/organizations/{org}/access", headers=world.h(carla),
                                    params={"action": "use", "product_id": str(drive)})
                return r.json()["code"]

            assert await code_on_replica() == "right_missing"  # loaded at start-up
            await world.c.put(f"/v1/organizations/{org}/members/{carla}/rights", headers=world.h(anna),
                              json={"grants": [{"product_id": str(drive), "rights": ["use"]}]})
            assert await world.access(org, carla, "use", drive) == "allowed"  # this process: at once
            assert await code_on_replica() == "right_missing"  # the replica: at its next poll
            await replica.state.core.memory.refresh()
            assert await code_on_replica() == "allowed"
    await feed(world.app, AccountBlocked(account_id=carla, account_version=9, reason="incident",
                                         blocked_at=world.clock.now()))
    await world.app.state.core.memory.refresh()
    r = await world.c.get(f"/v1/organizations/{org}/access", headers=world.h(carla),
                          params={"action": "use", "product_id": str(drive)})
    assert (r.status_code, r.json()["code"]) == (403, "account_blocked")

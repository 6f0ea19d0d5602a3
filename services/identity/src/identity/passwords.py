"""Argon2id hashing, run off the event loop (argon2-cffi releases the GIL,
so hashes use every core while the loop keeps serving)."""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, memory_kib: int = 19456, time_cost: int = 2, parallelism: int = 1,
                 workers: int | None = None) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
                                      type=Type.ID)
        # Verified against when the e-mail is unknown, so a miss costs the
        # same time as a wrong password (no user enumeration by timing).
        self._dummy = self._hasher.hash("not-a-real-password-for-timing")
        # One hash per core at a time: more in parallel only thrash the CPU
        # caches (each needs memory_kib of RAM) and let a burst of sign-ins
        # claim unbounded memory; the rest wait in line.
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                                        thread_name_prefix="argon2")

    async def close(self) -> None:
        """At shutdown: let the hashing threads go (each app made its own
        pool, and a process that made several apps kept every one alive)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, hashed: str | None, password: str) -> bool:
        if hashed is None:
            await self._run(self._verify, self._dummy, password)
            return False
        return await self._run(self._verify, hashed, password)

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)

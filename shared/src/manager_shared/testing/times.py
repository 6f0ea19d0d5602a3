"""Checks that every time an API or event hands out says its offset (RFC 3339)."""
from __future__ import annotations

import re
from typing import Any

_TIME = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?")
_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def times_in(body: Any, path: str = "$") -> list[tuple[str, str]]:
    """Every (json path, value) of a JSON document that looks like a time."""
    if isinstance(body, dict):
        return [t for k, v in body.items() for t in times_in(v, f"{path}.{k}")]
    if isinstance(body, list):
        return [t for i, v in enumerate(body) for t in times_in(v, f"{path}[{i}]")]
    return [(path, body)] if isinstance(body, str) and _TIME.match(body) else []


def assert_times_have_offsets(body: Any, expect: int = 1) -> None:
    """At least `expect` times in `body`, each RFC 3339 with an offset."""
    found = times_in(body)
    assert len(found) >= expect, f"expected {expect} times in {body!r}"
    naive = [(p, v) for p, v in found if not _WITH_OFFSET.match(v)]
    assert not naive, f"times without an offset: {naive}"

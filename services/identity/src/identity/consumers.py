"""identity consumes no other service's events yet; the module keeps the
shape every service has."""
from __future__ import annotations

from manager_shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, service) -> None:
    """Declare identity's consumers on the runtime (none so far)."""

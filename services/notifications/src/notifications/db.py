"""notifications' database: the engine lives on the runtime (main.py); requests
get one transaction each through `get_session`."""
from manager_shared.runtime import get_session

__all__ = ["get_session"]

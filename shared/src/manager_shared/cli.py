"""The command line every service has: `python -m <service> serve|migrate`."""
from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
from pathlib import Path


def _load(ref: str):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def run(service: str, app_factory: str, settings_ref: str, *, default_port: int) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API and the event consumers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    sub.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args()
    settings = _load(settings_ref)()
    logging.basicConfig(level=settings.log_level.upper(),
                        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    if args.command == "migrate":
        from .db import Database, migrate

        main = importlib.import_module(f"{service}.main")
        db = Database(settings.database_url)
        asyncio.run(migrate(db, Path(main.MIGRATIONS)))
        return
    import uvicorn

    uvicorn.run(_load(app_factory)(settings), host=args.host, port=args.port, log_level="warning",
                proxy_headers=False)  # client address rules live in manager_shared.net

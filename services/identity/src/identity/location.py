"""Where a sign-in comes from: country by offline geo-IP (iptocc), device by
User-Agent (IDN-07)."""
from __future__ import annotations

from dataclasses import dataclass

from iptocc import country_code
from user_agents import parse as parse_user_agent


@dataclass(frozen=True)
class Location:
    ip: str
    country: str | None  # ISO 3166-1 alpha-2, None for private/unknown ranges
    device: str  # e.g. "Firefox on Windows"

    @property
    def place_key(self) -> str:
        return self.country or "??"


def describe_device(user_agent: str | None) -> str:
    if not user_agent:
        return "Unknown device"
    ua = parse_user_agent(user_agent[:512])
    browser = ua.browser.family or "Other"
    system = ua.os.family or "Other"
    if system == "Other":
        return browser[:120]
    return f"{browser} on {system}"[:120]


def locate(ip: str, user_agent: str | None) -> Location:
    try:
        country = country_code(ip)
    except ValueError:
        country = None
    return Location(ip=ip, country=country, device=describe_device(user_agent))

"""Names of the places residents find services, and the supply segments they are counted in.

A surface is `feed`, `search`, `channel.<slug>` or `topic.<slug>` (the event intake's code shape:
lower-case, dots allowed). A supply segment is surface × city × part of the day × audience.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from townsquare.traffic.config import AUDIENCES, DAYPARTS, SURFACE_FEED, SURFACE_SEARCH

# ≤ 24 characters, so "channel.<slug>" fits the events' 32-character surface column
SLUG = re.compile(r"^[a-z][a-z0-9-]{1,23}$")
SURFACE = re.compile(r"^(feed|search|(channel|topic)\.[a-z][a-z0-9-]{1,23})$")
FEED, SEARCH = SURFACE_FEED, SURFACE_SEARCH


def channel(slug: str) -> str:
    return f"channel.{slug}"


def topic(slug: str) -> str:
    return f"topic.{slug}"


def is_surface(name: str) -> bool:
    return bool(SURFACE.match(name))


def daypart(moment: datetime, timezone: str) -> str:
    """night, morning, afternoon or evening in local time (6-hour parts)."""
    return DAYPARTS[moment.astimezone(ZoneInfo(timezone)).hour // 6]


def audience(signed_in: bool) -> str:
    return AUDIENCES[0] if signed_in else AUDIENCES[1]


def segment_key(surface: str, city: str, part: str, who: str) -> str:
    return f"{surface}|{city}|{part}|{who}"


def split_key(key: str) -> tuple[str, str, str, str]:
    surface, city, part, who = key.split("|")
    return surface, city, part, who

"""Where a delivery address falls: distance on the sphere and point-in-polygon. Pure.

A zone is at most a few kilometres across, so a polygon's corners are treated as points on a
plane in (lat, lng), which errs by far less than an address's own precision."""

from __future__ import annotations

import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def inside(lat: float, lng: float, polygon: Sequence[Sequence[float]]) -> bool:
    """Ray casting: is (lat, lng) inside the polygon (its corners in order, not repeated)?"""
    hit = False
    count = len(polygon)
    for i in range(count):
        (y1, x1), (y2, x2) = polygon[i], polygon[(i + 1) % count]
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lng < x_cross:
                hit = not hit
    return hit


def valid_lat_lng(lat: float, lng: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180

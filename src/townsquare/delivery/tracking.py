"""What the resident's page shows of a delivery: the courier's positions, the times, and a map
of the demo city (Wuhan) drawn here as SVG: the Yangtze and Han rivers, East Lake, the district
names, the shop, the door, the courier's trail. No map tiles from the internet (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

# The demo city's box (south, west, north, east) and the SVG's size.
SOUTH, WEST, NORTH, EAST = 30.44, 114.14, 30.70, 114.50
WIDTH, HEIGHT = 360, 300

YANGTZE = [(30.44, 114.20), (30.49, 114.23), (30.53, 114.26), (30.555, 114.285),
           (30.58, 114.30), (30.61, 114.33), (30.635, 114.37), (30.66, 114.42),
           (30.69, 114.50)]
HAN = [(30.585, 114.14), (30.575, 114.19), (30.57, 114.23), (30.565, 114.26),
       (30.56, 114.28)]
EAST_LAKE = (30.555, 114.395, 0.030, 0.040)  # centre lat, lng, half height, half width
DISTRICTS = [("汉口", 30.615, 114.27), ("武昌", 30.545, 114.32), ("汉阳", 30.53, 114.22),
             ("青山", 30.64, 114.40), ("光谷", 30.500, 114.41)]


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float


@dataclass(frozen=True)
class Track:
    """A delivery's tracking data (also the JSON the resident's page polls)."""

    status: str
    provider: str | None
    courier_name: str
    courier: Point | None
    pickup: Point
    dropoff: Point
    trail: list[Point]
    pickup_eta: datetime | None
    dropoff_eta: datetime | None
    picked_up_at: datetime | None
    delivered_at: datetime | None
    promised_by: datetime | None


def xy(lat: float, lng: float) -> tuple[float, float]:
    """SVG coordinates of a position (equirectangular: at a city's scale the error is tiny)."""
    lat = min(max(lat, SOUTH), NORTH)
    lng = min(max(lng, WEST), EAST)
    x = (lng - WEST) / (EAST - WEST) * WIDTH
    y = (NORTH - lat) / (NORTH - SOUTH) * HEIGHT
    return round(x, 1), round(y, 1)


def _line(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x},{y}" for x, y in (xy(lat, lng) for lat, lng in points))


def svg(track: Track, *, labels: dict[str, str] | None = None) -> str:
    """The map as an inline SVG element (escaped, safe to put in a page)."""
    labels = labels or {}
    lat, lng, dh, dw = EAST_LAKE
    lx, ly = xy(lat, lng)
    rx = dw / (EAST - WEST) * WIDTH
    ry = dh / (NORTH - SOUTH) * HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="delivery-map" role="img" aria-label="{escape(labels.get("map", "map"))}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#f3efe6"/>',
        f'<polyline points="{_line(YANGTZE)}" fill="none" stroke="#9cc3e6" stroke-width="14" '
        'stroke-linecap="round" stroke-linejoin="round"/>',
        f'<polyline points="{_line(HAN)}" fill="none" stroke="#9cc3e6" stroke-width="7" '
        'stroke-linecap="round"/>',
        f'<ellipse cx="{lx}" cy="{ly}" rx="{rx:.1f}" ry="{ry:.1f}" fill="#9cc3e6"/>',
    ]
    for name, dlat, dlng in DISTRICTS:
        x, y = xy(dlat, dlng)
        parts.append(f'<text x="{x}" y="{y}" font-size="12" fill="#8a8170" '
                     f'text-anchor="middle">{escape(name)}</text>')
    if len(track.trail) > 1:
        trail = _line([(p.lat, p.lng) for p in track.trail])
        parts.append(f'<polyline points="{trail}" fill="none" stroke="#e07a1f" '
                     'stroke-width="3" stroke-dasharray="5 3" class="trail"/>')
    px, py = xy(track.pickup.lat, track.pickup.lng)
    dx, dy = xy(track.dropoff.lat, track.dropoff.lng)
    parts.append(f'<circle cx="{px}" cy="{py}" r="7" fill="#2d6a4f" class="pickup">'
                 f'<title>{escape(labels.get("pickup", "pickup"))}</title></circle>')
    parts.append(f'<rect x="{dx - 6}" y="{dy - 6}" width="12" height="12" fill="#1d3557" '
                 f'class="dropoff"><title>{escape(labels.get("dropoff", "drop-off"))}</title>'
                 '</rect>')
    if track.courier is not None:
        cx, cy = xy(track.courier.lat, track.courier.lng)
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="8" fill="#e07a1f" stroke="#fff" '
                     f'stroke-width="2" class="courier"><title>'
                     f'{escape(labels.get("courier", "courier"))}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def as_json(track: Track) -> dict[str, object]:
    def t(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    def p(value: Point | None) -> dict[str, float] | None:
        return {"lat": value.lat, "lng": value.lng} if value else None

    return {
        "status": track.status, "provider": track.provider, "courier_name": track.courier_name,
        "courier": p(track.courier), "pickup": p(track.pickup), "dropoff": p(track.dropoff),
        "trail": [p(x) for x in track.trail], "pickup_eta": t(track.pickup_eta),
        "dropoff_eta": t(track.dropoff_eta), "picked_up_at": t(track.picked_up_at),
        "delivered_at": t(track.delivered_at), "promised_by": t(track.promised_by),
        "map": {"svg": svg(track)},
    }

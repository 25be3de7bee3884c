"""The grid of served items as HTML, written in Python rather than as Jinja macros.

Every feed, channel, topic and search page shows ten or so items, and the macros (an icon macro
inside an item macro inside a loop) were the largest part of the home page's render: Jinja's
macro calls cost far more than the few strings they join. The markup is the same as the
macros wrote (traffic/feed_macros.html keeps `feed_grid` as the name pages call)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from townsquare.core import i18n
from townsquare.web import icons

# Residents see only labels that help them: ads are labelled 广告, new shops 新店, campaign
# picks 活动. Guaranteed slots are the platform's own business (consoles show them).
_LABELS = {
    "sponsored": i18n.N_("Ad"),
    "cold_start": i18n.N_("New shop"),
    "campaign": i18n.N_("Campaign pick"),
}


def _icon(value: str, *, name: str, category: str, taken: list[str]) -> str:
    """As the `icon` macro of miniapps/shell_macros.html: the merchant's own image, else a
    bundled icon chosen from the name and category, distinct within the grid."""
    if value and value.startswith(("https://", "http://", "/")):
        return f'<img class="icon" src="{escape(value)}" alt="" width="40" height="40">'
    return str(icons.service_svg(name, category, value or "", taken=taken))


def grid(items: Iterable[Any]) -> Markup:
    """`<div class="feed-grid">` with one link per served item (`serving.service.Item`)."""
    taken: list[str] = []
    parts = ['<div class="feed-grid">']
    for item in items:
        card = item.card
        reason = str(item.reason)
        parts.append(
            f'<a class="feed-item reason-{escape(reason)}" href="{escape(item.click_url)}" '
            f'data-feed-miniapp="{escape(card.public_id)}" data-reason="{escape(reason)}" '
            f'data-position="{item.position}">'
            + _icon(card.icon, name=card.name, category=card.category, taken=taken)
            + f'<span class="name">{escape(card.name)}</span>')
        if card.brand:
            title = escape(i18n.gettext("Certified brand"))
            parts.append(f'<span class="badge certified" title="{title}">'
                         f"✔ {escape(card.brand)}</span>")
        label = _LABELS.get(reason)
        if label is not None:
            parts.append(f'<span class="badge slot-{reason}" data-label="{reason}">'
                         f"{escape(i18n.gettext(label))}</span>")
        parts.append("</a>")
    parts.append("</div>")
    return Markup("".join(parts))


def city_switch(cities: Sequence[str], city: str, base: str) -> Markup:
    """The links to the same page in each other city (nothing when there is one city)."""
    if len(cities) <= 1:
        return Markup("")
    return _city_switch(tuple(cities), city, base, i18n.current_locale.get())


@lru_cache(maxsize=1024)
def _city_switch(cities: tuple[str, ...], city: str, base: str, locale: str) -> Markup:
    """Memoised: the same few strings on every page view, and URL-quoting every city name
    was a twentieth of the home page's time. `locale` is part of the key for the label."""
    join = "&" if "?" in base else "?"
    links = " · ".join(
        f'<a href="{escape(base)}{escape(join)}city={escape(quote(name, safe="/"))}"'
        + (' class="current" aria-current="true"' if name == city else "")
        + f">{escape(name)}</a>" for name in cities)
    label = escape(i18n.gettext("City"))
    return Markup(f'<p class="city-switch muted">{label}:\n    {links}\n  </p>')

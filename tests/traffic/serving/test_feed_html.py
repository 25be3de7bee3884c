"""The served items' grid and the city switch, written in Python (traffic/serving/feed_html.py):
the markup the pages and browser tests rely on, escaping, labels in the reader's language."""

from __future__ import annotations

from townsquare.core import i18n
from townsquare.traffic.models import SlotReason
from townsquare.traffic.serving import feed_html
from townsquare.traffic.serving.cache import Card
from townsquare.traffic.serving.service import Item


def _item(position: int, name: str, reason: SlotReason, *, icon: str = "", brand: str | None = None,
          category: str = "grocery") -> Item:
    card = Card(id=position, public_id=f"ma_{position:06d}", name=name, icon=icon, description="",
                merchant_id=1, merchant_name="m", brand=brand, category=category, cities=("武汉",),
                stage=None, quality=None, tier=None)
    return Item(position=position, card=card, reason=reason, is_new=False, official=False,
                promise_id=None, bid_id=None, price_fen=None, click_url=f"/go/t{position}?a=1&b=2")


def test_grid_markup_labels_and_escaping():
    token = i18n.current_locale.set("zh_CN")
    try:
        html = str(feed_html.grid([
            _item(1, "生鲜<b>到家</b>", SlotReason.SPONSORED, brand="百果园 & Co"),
            _item(2, "社区团购", SlotReason.ORGANIC, icon="https://img.example/x.png?a=1&b=2"),
            _item(3, "社区团购二", SlotReason.COLD_START),
        ]))
    finally:
        i18n.current_locale.reset(token)
    assert html.startswith('<div class="feed-grid">') and html.endswith("</div>")
    assert ('<a class="feed-item reason-sponsored" href="/go/t1?a=1&amp;b=2" '
            'data-feed-miniapp="ma_000001" data-reason="sponsored" data-position="1">') in html
    assert "生鲜&lt;b&gt;到家&lt;/b&gt;" in html and "<b>" not in html
    assert "✔ 百果园 &amp; Co</span>" in html
    assert 'data-label="sponsored">广告</span>' in html
    assert 'data-label="cold_start">新店</span>' in html
    assert html.count("data-label=") == 2  # organic items carry no label
    assert '<img class="icon" src="https://img.example/x.png?a=1&amp;b=2"' in html
    # neighbours get distinct bundled icons
    icons = [part.split('"')[0] for part in html.split('data-icon="')[1:]]
    assert len(icons) == 2 and len(set(icons)) == 2


def test_city_switch_links_and_current_city():
    token = i18n.current_locale.set("en")
    try:
        html = str(feed_html.city_switch(["武汉", "北京"], "北京", "/search?q=x"))
        assert str(feed_html.city_switch(["武汉"], "武汉", "/")) == ""
    finally:
        i18n.current_locale.reset(token)
    assert html.startswith('<p class="city-switch muted">City:')
    assert '<a href="/search?q=x&amp;city=%E6%AD%A6%E6%B1%89">武汉</a>' in html
    assert ('<a href="/search?q=x&amp;city=%E5%8C%97%E4%BA%AC" class="current" '
            'aria-current="true">北京</a>') in html

"""Consoles show a mini-app's settings as labels: yes/no, yuan, a choice's name — never True,
False, fen or a raw choice code."""

from __future__ import annotations

from townsquare.miniapps.page_forms import config_value


def test_settings_are_shown_as_labels():
    assert config_value("storefront", "store_pickup", True) == "是"
    assert config_value("storefront", "delivery", False) == "否"
    assert config_value("storefront", "min_order_fen", 1500) == "¥15.00"
    assert config_value("consultation", "mode", "video") == "视频问诊"
    assert config_value("storefront", "welcome", "欢迎") == "欢迎"
    assert config_value(None, "unknown", None) == ""

"""The value types the score model passes around: a metrics row and its values, the key of a
mini-app in it, and the plain JSON its results turn into."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

MiniAppKey: TypeAlias = int | str  # a metrics row's miniapp_id: the row id or a public id
MetricValue: TypeAlias = int | float | str | None  # one value of a metrics row, as measured
Row: TypeAlias = Mapping[str, MetricValue]  # one mini-app's metrics row
JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
JSONObject: TypeAlias = dict[str, JSON]

"""达达 (Dada) open platform, protocol v1.0 (newopen.imdada.cn): the adapter. Sources in
docs/delivery.md, "Protocols".

- Every call: `POST <path>` with JSON `{app_key, body, format: "json", timestamp, source_id,
  v: "1.0", signature}`, `body` the business parameters as a JSON string, `signature` =
  MD5(app_secret + k1v1k2v2… over the envelope's keys in ascending order + app_secret), upper
  case. Answers `{status: "success"|"fail", code, msg, result}`; money in yuan (×100 → fen).
- The pickup is a registered shop (`shop_no`): the adapter registers each pickup place once per
  process through /api/shop/add under a stable `origin_shop_id` derived from the place
  ("already exists" counts as registered).
- Our delivery id is Dada's `origin_id` (the order's `order_id` in queries and callbacks).
  quote = /api/order/queryDeliverFee (a `deliveryNo` valid 3 minutes), create =
  /api/order/addAfterQuery with that `deliveryNo` (or /api/order/addOrder without a quote),
  get = /api/order/status/query by our id, cancel = /api/order/formalCancel (reason 10000
  "other" with our text; only before pickup).
- Callbacks: JSON POSTed to the order's `callback` URL (Townsquare's
  /delivery/webhooks/dada); `signature` = md5 of the values of client_id, order_id and
  update_time, sorted as strings and joined (lower-case hex). Dada's callback signature uses no
  secret: it proves the body is unaltered, not who sent it, so the intake should trust a Dada
  status only after `get` confirms it (polling does) where that matters.
- Statuses: 1 待接单 created, 2 待取货 assigned, 100 骑士到店 at pickup, 3 配送中 picked up,
  4 已完成 delivered, 5 已取消 / 7 已过期 cancelled, 8 指派单 assigned, 9 妥投异常之物品返回中
  returning, 10 妥投异常之物品返回完成 returned, 1000 创建达达运单失败 rejected.

Settings: TOWNSQUARE_DELIVERY_DADA_URL, _ACCOUNT (source_id), _KEY_ID (app_key), _SECRET
(app_secret); the callback URL is TOWNSQUARE_BASE_URL + /delivery/webhooks/dada."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.delivery.adapters._http import (
    ProviderHttp,
    event_id,
    failed,
    json_or_empty,
    not_found,
)
from townsquare.delivery.adapters.base import (
    BadSignature,
    DuplicateDelivery,
    NotCancellable,
    Parcel,
    Place,
    ProviderDelivery,
    ProviderError,
    ProviderQuote,
    ProviderRejected,
    QuoteExpired,
    WebhookEvent,
)
from townsquare.delivery.status import DeliveryStatus

NAME = "dada"
DELIVERY_NO_TTL = timedelta(minutes=3)
CITY_CODE_WUHAN = "027"
CANCEL_REASON_OTHER = 10000
# Estimates Dada does not give: a courier is found and reaches the shop in about this long, and
# rides this many metres a minute.
PICKUP_MINUTES = 15
METRES_PER_MINUTE = 250

STATUSES: dict[int, DeliveryStatus] = {
    1: DeliveryStatus.CREATED, 2: DeliveryStatus.ASSIGNED, 100: DeliveryStatus.AT_PICKUP,
    3: DeliveryStatus.PICKED_UP, 4: DeliveryStatus.DELIVERED, 5: DeliveryStatus.CANCELLED,
    7: DeliveryStatus.CANCELLED, 8: DeliveryStatus.ASSIGNED, 9: DeliveryStatus.RETURNING,
    10: DeliveryStatus.RETURNED, 1000: DeliveryStatus.REJECTED,
}
# Error codes as the simulator answers them (simulators/dada.py); messages are read as well.
ERR_ORDER_EXISTS = 2105
ERR_DELIVERY_NO_EXPIRED = 2076
ERR_ORDER_MISSING = 2062
ERR_NOT_CANCELLABLE = 2064
ERR_OUT_OF_AREA = 2402
ERR_SIGNATURE = 2003
ERR_APP_KEY = 2005


def sign(envelope: Mapping[str, Any], app_secret: str) -> str:
    text = "".join(f"{k}{envelope[k]}" for k in sorted(envelope) if k != "signature")
    return hashlib.md5((app_secret + text + app_secret).encode()).hexdigest().upper()


def callback_signature(client_id: Any, order_id: Any, update_time: Any) -> str:
    values = sorted(str(v) for v in (client_id, order_id, update_time))
    return hashlib.md5("".join(values).encode()).hexdigest()


def shop_no(place: Place) -> str:
    """A stable shop number for a pickup place (Dada's origin_shop_id)."""
    key = f"{place.name}|{place.address}|{place.lat:.6f}|{place.lng:.6f}"
    return "ts" + hashlib.sha256(key.encode()).hexdigest()[:16]


class DadaAdapter:
    name = NAME

    def __init__(self, base_url: str, *, source_id: str, app_key: str, app_secret: str,
                 callback_url: str, timeout_s: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = ProviderHttp(NAME, base_url, timeout_s, transport)
        self.source_id = source_id
        self.app_key = app_key
        self.app_secret = app_secret
        self.callback_url = callback_url
        self._shops: set[str] = set()
        self._lock = threading.Lock()

    # -- calls ------------------------------------------------------------------------------

    def envelope(self, body: Any, timestamp: int | None = None) -> dict[str, str]:
        params = {
            "app_key": self.app_key,
            "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            "format": "json",
            "timestamp": str(timestamp if timestamp is not None else int(time.time())),
            "source_id": self.source_id,
            "v": "1.0",
        }
        params["signature"] = sign(params, self.app_secret)
        return params

    def _call(self, path: str, body: Any) -> tuple[bool, int, str, Any]:
        response = self.http.request("POST", path, json=self.envelope(body))
        if response.status_code >= 500:
            raise failed(NAME, f"HTTP {response.status_code}")
        data = json_or_empty(response)
        if not data:
            raise failed(NAME, f"HTTP {response.status_code}, no JSON answer")
        code = int(data.get("code", -1) if str(data.get("code", "")).lstrip("-").isdigit()
                   else -1)
        ok = data.get("status") == "success" and code == 0
        if not ok and code in (ERR_SIGNATURE, ERR_APP_KEY):
            raise ProviderError(N_("{provider} refused our credentials."), provider=NAME,
                                code="provider_auth")
        if not ok and code == -1:
            raise failed(NAME, str(data.get("msg", "")))
        return ok, code, str(data.get("msg", "")), data.get("result")

    def _ensure_shop(self, place: Place) -> str:
        number = shop_no(place)
        with self._lock:
            if number in self._shops:
                return number
        ok, code, msg, result = self._call("/api/shop/add", [{
            "origin_shop_id": number, "station_name": place.name[:50], "business": 1,
            "city_name": "武汉", "area_name": "", "station_address": place.address,
            "lng": place.lng, "lat": place.lat, "contact_name": place.name[:20],
            "phone": place.phone,
        }])
        if not ok:
            raise failed(NAME, f"{code} {msg}")
        failed_list = (result or {}).get("failedList") or []
        if failed_list and "已存在" not in str(failed_list[0].get("msg", "")):
            raise failed(NAME, str(failed_list[0].get("msg", "")))
        with self._lock:
            self._shops.add(number)
        return number

    def _order_body(self, parcel: Parcel) -> dict[str, Any]:
        items = "、".join(parcel.items)
        return {
            "shop_no": self._ensure_shop(parcel.pickup),
            "origin_id": parcel.delivery_id,
            "city_code": CITY_CODE_WUHAN,
            "cargo_price": round(parcel.value_fen / 100, 2),
            "is_prepay": 0,
            "receiver_name": parcel.dropoff.name,
            "receiver_address": parcel.dropoff.address,
            "receiver_lat": parcel.dropoff.lat,
            "receiver_lng": parcel.dropoff.lng,
            "receiver_phone": parcel.dropoff.phone,
            "callback": self.callback_url,
            "cargo_weight": 1.0,
            "cargo_num": len(parcel.items),
            "cargo_type": 1,  # 食品小吃
            "info": f"{items}；收货码 {parcel.dropoff_code}"[:512],
            "origin_mark": "TS",
            "origin_mark_no": parcel.delivery_id[-30:],
        }

    @staticmethod
    def _refused(code: int, msg: str) -> ProviderError:
        if code == ERR_ORDER_EXISTS or "已存在" in msg:
            return DuplicateDelivery(N_("{provider} already has this delivery."), provider=NAME)
        if code == ERR_DELIVERY_NO_EXPIRED or "过期" in msg:
            return QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
        if code == ERR_OUT_OF_AREA or "范围" in msg:
            return ProviderRejected(N_("{provider} refused the delivery: {detail}"),
                                    provider=NAME, detail=msg[:200])
        if code == ERR_ORDER_MISSING or "不存在" in msg:
            return not_found(NAME)
        return failed(NAME, f"{code} {msg}")

    def quote(self, parcel: Parcel) -> ProviderQuote:
        asked = datetime.now(UTC)
        ok, code, msg, result = self._call("/api/order/queryDeliverFee",
                                           self._order_body(parcel))
        if not ok:
            raise self._refused(code, msg)
        distance = float(result.get("distance") or 0)
        pickup_eta = asked + timedelta(minutes=PICKUP_MINUTES)
        expires = asked + DELIVERY_NO_TTL
        if result.get("expiredTime"):
            expires = min(expires, datetime.fromtimestamp(int(result["expiredTime"]), UTC))
        return ProviderQuote(
            provider=NAME, quote_id=str(result["deliveryNo"]),
            fee_fen=round(float(result.get("fee", 0)) * 100),
            pickup_eta=pickup_eta,
            dropoff_eta=pickup_eta + timedelta(minutes=distance / METRES_PER_MINUTE),
            expires_at=expires,
        )

    def create(self, parcel: Parcel, quote: ProviderQuote | None) -> ProviderDelivery:
        if quote is not None and quote.provider == NAME:
            if quote.expires_at <= datetime.now(UTC):
                raise QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
            ok, code, msg, _ = self._call("/api/order/addAfterQuery",
                                          {"deliveryNo": quote.quote_id})
        else:
            ok, code, msg, _ = self._call("/api/order/addOrder", self._order_body(parcel))
        if not ok:
            if quote is not None and code == ERR_ORDER_MISSING:  # Dada forgot the deliveryNo
                raise QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
            raise self._refused(code, msg)
        return self.get(parcel.delivery_id)

    def get(self, delivery_id: str) -> ProviderDelivery:
        ok, code, msg, result = self._call("/api/order/status/query", {"order_id": delivery_id})
        if not ok:
            raise self._refused(code, msg)
        return self._delivery(result)

    def cancel(self, delivery_id: str, reason: str) -> ProviderDelivery:
        ok, code, msg, _ = self._call("/api/order/formalCancel", {
            "order_id": delivery_id, "cancel_reason_id": CANCEL_REASON_OTHER,
            "cancel_reason": (reason or "商家取消")[:100]})
        if not ok:
            if code == ERR_NOT_CANCELLABLE or "不允许取消" in msg:
                raise NotCancellable(N_("{provider} can no longer cancel this delivery."),
                                     provider=NAME)
            raise self._refused(code, msg)
        return self.get(delivery_id)

    # -- callbacks --------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise BadSignature(N_("The webhook's signature does not verify.")) from exc
        if not isinstance(payload, dict):
            raise BadSignature(N_("The webhook's signature does not verify."))
        client_id, order_id = payload.get("client_id"), payload.get("order_id")
        update_time = payload.get("update_time")
        given = str(payload.get("signature") or "").lower()
        if client_id is None or not order_id or update_time is None or not given or \
                not hmac.compare_digest(given, callback_signature(client_id, order_id,
                                                                  update_time)):
            raise BadSignature(N_("The webhook's signature does not verify."))
        try:
            code = int(payload.get("order_status"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return []
        status = STATUSES.get(code)
        if status is None:
            return []
        seconds = float(update_time)
        if seconds > 10**11:  # 1000 创建达达运单失败 carries milliseconds
            seconds /= 1000
        occurred = datetime.fromtimestamp(seconds, UTC)
        delivery = ProviderDelivery(
            provider=NAME, external_id=str(client_id), status=status, fee_fen=None,
            courier_name=str(payload.get("dm_name") or ""),
            courier_phone=str(payload.get("dm_mobile") or ""), courier_lat=None,
            courier_lng=None, tracking_url="", pickup_eta=None, dropoff_eta=None,
        )
        return [WebhookEvent(
            provider=NAME,
            event_id=event_id("dada_", client_id, order_id, code, update_time,
                              payload.get("repeat_reason_type") or 0),
            delivery_id=str(order_id), status=status, occurred_at=occurred, delivery=delivery,
        )]

    # -- mapping ----------------------------------------------------------------------------

    def _delivery(self, result: dict[str, Any]) -> ProviderDelivery:
        code = int(result.get("statusCode", 0))
        status = STATUSES.get(code)
        if status is None:
            raise failed(NAME, f"unknown statusCode {code}")
        fee = result.get("actualFee", result.get("deliveryFee"))
        return ProviderDelivery(
            provider=NAME, external_id=str(result.get("orderId", "")), status=status,
            fee_fen=round(float(fee) * 100) if fee not in (None, "") else None,
            courier_name=str(result.get("transporterName") or ""),
            courier_phone=str(result.get("transporterPhone") or ""),
            courier_lat=_float(result.get("transporterLat")),
            courier_lng=_float(result.get("transporterLng")),
            tracking_url="", pickup_eta=_clock(result.get("fetchTime")),
            dropoff_eta=_clock(result.get("finishTime")),
        )


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _clock(value: Any) -> datetime | None:
    """Dada's "YYYY-MM-DD HH:MM:SS" in China time (UTC+8)."""
    if not value:
        return None
    try:
        local = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return (local - timedelta(hours=8)).replace(tzinfo=UTC)


def from_settings(settings: Settings) -> DadaAdapter | None:
    if not settings.delivery_dada_url:
        return None
    return DadaAdapter(
        settings.delivery_dada_url, source_id=settings.delivery_dada_account,
        app_key=settings.delivery_dada_key_id, app_secret=settings.delivery_dada_secret,
        callback_url=settings.base_url.rstrip("/") + "/delivery/webhooks/dada",
        timeout_s=settings.delivery_http_timeout_s,
    )

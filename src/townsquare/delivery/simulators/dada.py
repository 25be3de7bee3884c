"""The 达达 (Dada) open platform side, simulated (newopen.imdada.cn, protocol v1.0).

Every call is `POST <path>` with the JSON envelope `{app_key, body, format: "json", timestamp,
source_id, v: "1.0", signature}`: `body` is the business parameters as a JSON string and
`signature` is MD5, upper case, of app_secret + the envelope's keys in ascending order each
followed by its value (signature excluded) + app_secret. Answers are `{status: "success"|"fail",
code, msg, result}`. Implemented: /api/shop/add (the pickup is a registered shop, `shop_no`),
/api/order/queryDeliverFee (a `deliveryNo` valid 3 minutes), /api/order/addAfterQuery,
/api/order/addOrder, /api/order/status/query, /api/order/formalCancel (before pickup only).
Money in yuan. Order callbacks are POSTed as JSON to the order's `callback` URL with
`signature` = md5 (lower case) of the values of client_id, order_id and update_time sorted as
strings and joined. Status codes: 1 待接单, 2 待取货, 100 骑士到店, 3 配送中, 4 已完成, 5 已取消.

The numeric error codes below are the simulator's own where our sources (docs/delivery.md,
Protocols) do not show Dada's; the adapter also reads the message.

`python -m townsquare.delivery.simulators.dada --port 8703` (callbacks go to each order's URL)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from townsquare.delivery.simulators.base import (
    SERVICE_RADIUS_M,
    Simulator,
    Stage,
    Trip,
    command_line,
    distance_m,
)

DEMO_APP_KEY = "dada-ts-demo-app-key"
DEMO_APP_SECRET = "dada-ts-demo-app-secret"
DEMO_SOURCE_ID = "73753"  # the source id Dada's sandbox hands out for testing
DEFAULT_PORT = 8703
CHINA = timezone(timedelta(hours=8))
DELIVERY_NO_TTL_S = 180  # 平台订单号，有效期3分钟

# error codes (see the module docstring)
ERR_SYSTEM = -1
ERR_SIGNATURE = 2003
ERR_APP_KEY = 2005
ERR_PARAMS = 2001
ERR_SHOP_MISSING = 2106
ERR_ORDER_EXISTS = 2105
ERR_DELIVERY_NO_EXPIRED = 2076
ERR_ORDER_MISSING = 2062
ERR_NOT_CANCELLABLE = 2064
ERR_OUT_OF_AREA = 2402

STAGE_CODE = {
    Stage.CREATED: (1, "待接单"), Stage.ASSIGNED: (2, "待取货"), Stage.AT_PICKUP: (100, "骑士到店"),
    Stage.PICKED_UP: (3, "配送中"), Stage.AT_DROPOFF: (3, "配送中"), Stage.DELIVERED: (4, "已完成"),
    Stage.CANCELLED: (5, "已取消"),
}


def sign_request(params: dict[str, Any], app_secret: str) -> str:
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "signature")
    return hashlib.md5((app_secret + text + app_secret).encode()).hexdigest().upper()


def sign_callback(client_id: str, order_id: str, update_time: Any) -> str:
    return hashlib.md5("".join(sorted([str(client_id), str(order_id),
                                       str(update_time)])).encode()).hexdigest()


def _ok(result: Any = None) -> JSONResponse:
    return JSONResponse({"status": "success", "code": 0, "msg": "成功", "result": result,
                         "success": True, "fail": False})


def _fail(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"status": "fail", "code": code, "msg": msg, "errorCode": code,
                         "success": False, "fail": True})


def _clock(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _yuan(fen: int) -> float:
    return round(fen / 100, 2)


class DadaSimulator(Simulator):
    provider = "dada"

    def __init__(self, *, app_key: str = DEMO_APP_KEY, app_secret: str = DEMO_APP_SECRET,
                 source_id: str = DEMO_SOURCE_ID, **kw: Any) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.source_id = source_id
        self.shops: dict[str, dict[str, Any]] = {}  # origin_shop_id → shop
        self.queries: dict[str, dict[str, Any]] = {}  # deliveryNo → fee query
        self.orders: dict[str, dict[str, Any]] = {}  # origin_id → published order
        super().__init__(**kw)

    def expire_quotes(self) -> None:
        """Make every deliveryNo expired (as if 3 minutes had passed)."""
        with self.lock:
            for query in self.queries.values():
                query["expires"] = self.now() - 1

    # -- the envelope -----------------------------------------------------------------------

    def open_envelope(self, raw: bytes) -> tuple[Any, JSONResponse | None]:
        try:
            envelope = json.loads(raw)
        except json.JSONDecodeError:
            return None, _fail(ERR_PARAMS, "请求参数不是合法的JSON")
        if not isinstance(envelope, dict):
            return None, _fail(ERR_PARAMS, "请求参数不是合法的JSON")
        needed = ("app_key", "body", "format", "timestamp", "source_id", "v", "signature")
        missing = [k for k in needed if envelope.get(k) in (None, "")]
        if missing:
            return None, _fail(ERR_PARAMS, f"缺少参数: {','.join(missing)}")
        if envelope["app_key"] != self.app_key:
            return None, _fail(ERR_APP_KEY, "app_key无效")
        if str(envelope["source_id"]) != self.source_id:
            return None, _fail(ERR_PARAMS, "source_id无效")
        expected = sign_request({k: v for k, v in envelope.items()}, self.app_secret)
        if not hmac.compare_digest(str(envelope["signature"]), expected):
            return None, _fail(ERR_SIGNATURE, "签名错误")
        if str(envelope["v"]) != "1.0" or envelope["format"] != "json":
            return None, _fail(ERR_PARAMS, "不支持的版本或格式")
        try:
            body = json.loads(envelope["body"]) if envelope["body"] else {}
        except (TypeError, json.JSONDecodeError):
            return None, _fail(ERR_PARAMS, "body不是合法的JSON字符串")
        return body, None

    # -- orders -----------------------------------------------------------------------------

    def _check_order(self, body: Any) -> JSONResponse | None:
        if not isinstance(body, dict):
            return _fail(ERR_PARAMS, "body必须为JSON对象")
        for name in ("shop_no", "origin_id", "cargo_price", "receiver_name",
                     "receiver_address", "receiver_lat", "receiver_lng", "callback"):
            if body.get(name) in (None, ""):
                return _fail(ERR_PARAMS, f"{name}不能为空")
        if not (body.get("receiver_phone") or body.get("receiver_tel")):
            return _fail(ERR_PARAMS, "收货人手机号和座机号必填一项")
        if body["shop_no"] not in self.shops:
            return _fail(ERR_SHOP_MISSING, "门店不存在")
        if body["origin_id"] in self.orders:
            return _fail(ERR_ORDER_EXISTS, "订单已存在")
        return None

    def _points(self, body: dict[str, Any]) -> tuple[tuple[float, float], tuple[float, float]]:
        shop = self.shops[body["shop_no"]]
        return ((float(shop["lat"]), float(shop["lng"])),
                (float(body["receiver_lat"]), float(body["receiver_lng"])))

    def _refusal(self, body: dict[str, Any]) -> JSONResponse | None:
        pickup, dropoff = self._points(body)
        if self.take_rejection() or distance_m(pickup, dropoff) > SERVICE_RADIUS_M:
            return _fail(ERR_OUT_OF_AREA, "收货地址超出配送范围")
        return None

    def _publish(self, body: dict[str, Any], fee_fen: int) -> dict[str, Any]:
        pickup, dropoff = self._points(body)
        client_id = str(300_000_000_000 + secrets.randbelow(10**11))
        order = {"body": body, "client_id": client_id, "fee": fee_fen,
                 "distance": int(distance_m(pickup, dropoff)),
                 "finish_code": f"{secrets.randbelow(10**6):06d}",
                 "created": self.now()}
        self.orders[body["origin_id"]] = order
        self.new_trip(body["origin_id"], pickup, dropoff)
        return order

    def status(self, origin_id: str) -> dict[str, Any]:
        order = self.orders[origin_id]
        trip = self.trips[origin_id]
        shop = self.shops[order["body"]["shop_no"]]
        now = self.now()
        stage = trip.stage(now)
        code, message = STAGE_CODE[stage]
        position = trip.position(now)
        assigned = position is not None and stage != Stage.CANCELLED
        return {
            "orderId": origin_id, "statusCode": code, "statusMsg": message,
            "transporterId": trip.courier.id if assigned else 0,
            "transporterName": trip.courier.name if assigned else "",
            "transporterPhone": trip.courier.phone if assigned else "",
            "transporterLng": f"{position[1]:.6f}" if assigned and position else "",
            "transporterLat": f"{position[0]:.6f}" if assigned and position else "",
            "deliveryFee": _yuan(order["fee"]), "tips": 0.0, "couponFee": 0.0,
            "insuranceFee": 0.0, "actualFee": _yuan(order["fee"]),
            "distance": order["distance"], "createTime": _clock(trip.created_at),
            "acceptTime": _clock(trip.t_assigned) if now >= trip.t_assigned else "",
            "fetchTime": _clock(trip.t_picked_up) if stage in (
                Stage.PICKED_UP, Stage.AT_DROPOFF, Stage.DELIVERED) else "",
            "finishTime": _clock(trip.t_delivered) if stage == Stage.DELIVERED else "",
            "cancelTime": _clock(trip.cancelled_at) if stage == Stage.CANCELLED else "",
            "orderFinishCode": order["finish_code"], "deductFee": 0,
            "supplierName": shop["station_name"], "supplierAddress": shop["station_address"],
            "supplierPhone": shop["phone"], "supplierLat": str(shop["lat"]),
            "supplierLng": str(shop["lng"]),
        }

    # -- callbacks --------------------------------------------------------------------------

    def stage_webhooks(self, trip: Trip, stage: Stage) -> None:
        if stage == Stage.AT_DROPOFF:
            return  # Dada has no "at the door" status
        with self.lock:
            order = self.orders.get(trip.key)
            if order is None:
                return
            url = order["body"].get("callback")
        code, _ = STAGE_CODE[stage]
        update_time = int(trip.stage_at(stage))
        payload: dict[str, Any] = {
            "client_id": order["client_id"], "order_id": trip.key, "order_status": code,
            "repeat_reason_type": 0,
            "cancel_reason": "", "cancel_from": 0, "update_time": update_time,
            "dm_id": 0, "dm_name": "", "dm_mobile": "", "finish_code": order["finish_code"],
        }
        if stage == Stage.CANCELLED:
            by_courier = trip.cancelled_by == "courier"
            payload["cancel_reason"] = "配送员取消" if by_courier else "商家主动取消"
            payload["cancel_from"] = 1 if by_courier else 2
        elif stage >= Stage.ASSIGNED:
            payload.update(dm_id=trip.courier.id, dm_name=trip.courier.name,
                           dm_mobile=trip.courier.phone)
        payload["signature"] = sign_callback(order["client_id"], trip.key, update_time)
        self.send_webhook(url, {"content-type": "application/json"},
                          json.dumps(payload, ensure_ascii=False).encode())

    def failure_response(self) -> Response:
        return _fail(ERR_SYSTEM, "系统异常，请稍后重试")

    # -- the API ----------------------------------------------------------------------------

    def build_app(self) -> FastAPI:
        app = FastAPI(title="达达开放平台 (simulated)")
        sim = self

        @app.post("/api/shop/add")
        async def shop_add(request: Request) -> Response:
            body, refused = sim.open_envelope(await request.body())
            if refused is not None:
                return refused
            if not isinstance(body, list):
                return _fail(ERR_PARAMS, "body必须为门店数组")
            success, failed = [], []
            with sim.lock:
                for shop in body:
                    key = str(shop.get("origin_shop_id") or f"ds{secrets.token_hex(6)}")
                    if key in sim.shops:
                        failed.append({"shopNo": key, "msg": "门店编码已存在",
                                       "shopName": shop.get("station_name", "")})
                        continue
                    if not all(shop.get(k) not in (None, "") for k in (
                            "station_name", "station_address", "lat", "lng", "phone")):
                        failed.append({"shopNo": key, "msg": "门店信息不完整",
                                       "shopName": shop.get("station_name", "")})
                        continue
                    sim.shops[key] = {**shop, "origin_shop_id": key}
                    success.append({"phone": shop["phone"], "business": shop.get("business", 1),
                                    "lng": shop["lng"], "lat": shop["lat"],
                                    "stationName": shop["station_name"], "originShopId": key,
                                    "contactName": shop.get("contact_name", ""),
                                    "stationAddress": shop["station_address"],
                                    "cityName": "武汉", "areaName": ""})
            return _ok({"success": len(success), "successList": success,
                        "failedList": failed})

        @app.post("/api/order/queryDeliverFee")
        async def query_deliver_fee(request: Request) -> Response:
            body, refused = sim.open_envelope(await request.body())
            if refused is not None:
                return refused
            with sim.lock:
                invalid = sim._check_order(body)
            if invalid is not None:
                return invalid
            refusal = sim._refusal(body)
            if refusal is not None:
                return refusal
            pickup, dropoff = sim._points(body)
            fee = sim.fee_cents(distance_m(pickup, dropoff))
            delivery_no = f"Dada{secrets.token_hex(10)}"
            expires = sim.now() + DELIVERY_NO_TTL_S
            with sim.lock:
                sim.queries[delivery_no] = {"body": body, "fee": fee, "expires": expires,
                                            "used": False}
            return _ok({"distance": int(distance_m(pickup, dropoff)), "deliveryNo": delivery_no,
                        "fee": _yuan(fee), "deliverFee": _yuan(fee), "couponFee": 0.0,
                        "tips": 0.0, "insuranceFee": 0.0, "expiredTime": int(expires)})

        @app.post("/api/order/addAfterQuery")
        async def add_after_query(request: Request) -> Response:
            body, refused = sim.open_envelope(await request.body())
            if refused is not None:
                return refused
            delivery_no = body.get("deliveryNo") if isinstance(body, dict) else None
            if not delivery_no:
                return _fail(ERR_PARAMS, "deliveryNo不能为空")
            with sim.lock:
                query = sim.queries.get(delivery_no)
                if query is None:
                    return _fail(ERR_ORDER_MISSING, "平台订单号不存在")
                origin_id = query["body"]["origin_id"]
                if query["used"] or origin_id in sim.orders:
                    return _fail(ERR_ORDER_EXISTS, "订单已存在")
                if sim.now() > query["expires"]:
                    return _fail(ERR_DELIVERY_NO_EXPIRED, "平台订单号已过期，请重新查询运费")
                query["used"] = True
                sim._publish(query["body"], query["fee"])
            return _ok(None)

        @app.post("/api/order/addOrder")
        async def add_order(request: Request) -> Response:
            body, refused = sim.open_envelope(await request.body())
            if refused is not None:
                return refused
            with sim.lock:
                invalid = sim._check_order(body)
            if invalid is not None:
                return invalid
            refusal = sim._refusal(body)
            if refusal is not None:
                return refusal
            pickup, dropoff = sim._points(body)
            with sim.lock:
                if body["origin_id"] in sim.orders:
                    return _fail(ERR_ORDER_EXISTS, "订单已存在")
                order = sim._publish(body, sim.fee_cents(distance_m(pickup, dropoff)))
            fee = _yuan(order["fee"])
            return _ok({"distance": order["distance"], "fee": fee, "deliverFee": fee,
                        "couponFee": 0.0, "tips": 0.0, "insuranceFee": 0.0})

        @app.post("/api/order/status/query")
        async def status_query(request: Request) -> Response:
            body, refused = sim.open_envelope(await request.body())
            if refused is not None:
                return refused
            order_id = body.get("order_id") if isinstance(body, dict) else None
            with sim.lock:
                if not order_id or order_id not in sim.orders:
                    return _fail(ERR_ORDER_MISSING, "订单不存在")
                return _ok(sim.status(order_id))

        @app.post("/api/order/formalCancel")
        async def formal_cancel(request: Request) -> Response:
            body, refused = sim.open_envelope(await request.body())
            if refused is not None:
                return refused
            if not isinstance(body, dict) or not body.get("order_id") \
                    or body.get("cancel_reason_id") in (None, ""):
                return _fail(ERR_PARAMS, "order_id和cancel_reason_id不能为空")
            if int(body["cancel_reason_id"]) == 10000 and not body.get("cancel_reason"):
                return _fail(ERR_PARAMS, "取消原因为其他时，cancel_reason必填")
            with sim.lock:
                if body["order_id"] not in sim.orders:
                    return _fail(ERR_ORDER_MISSING, "订单不存在")
                trip = sim.trips[body["order_id"]]
                stage = trip.stage(sim.now())
                if stage not in (Stage.CREATED, Stage.ASSIGNED, Stage.AT_PICKUP):
                    return _fail(ERR_NOT_CANCELLABLE, "订单状态已不允许取消")
                sim.cancel_trip(trip, "merchant")
            return _ok({"deduct_fee": 0.0})

        return app


def start(port: int = 0, **kw: Any) -> tuple[str, DadaSimulator]:
    sim = DadaSimulator(**kw)
    return sim.start(port=port), sim


def demo_settings(url: str) -> dict[str, str]:
    """The `Settings` fields (TOWNSQUARE_DELIVERY_DADA_*) that reach this simulator."""
    return {
        "delivery_dada_url": url, "delivery_dada_account": DEMO_SOURCE_ID,
        "delivery_dada_key_id": DEMO_APP_KEY, "delivery_dada_secret": DEMO_APP_SECRET,
    }


if __name__ == "__main__":
    command_line("dada", DadaSimulator, default_port=DEFAULT_PORT)

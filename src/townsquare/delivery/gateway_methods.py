"""Delivery through the open gateway (package `delivery`): an external mini-app's backend quotes,
books, follows and cancels a delivery for the merchant it acts for with
`townsquare.logistics.delivery.quote|create|query|cancel`. The same door as ordering's:
`create` is idempotent by the app's `out_delivery_no`, booking happens right after the call
commits (the merchant's policy, failover, never two couriers), and `query` follows it.

Places are objects {name, phone, address, lat, lng}; times are `yyyy-MM-dd HH:mm:ss` in Beijing
time, as Alipay writes them; money is yuan with two decimals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, TownsquareError
from townsquare.core.i18n import N_, catalogue
from townsquare.core.money import fen_to_yuan
from townsquare.delivery import dispatch, service
from townsquare.delivery.adapters.base import Place
from townsquare.delivery.models import Delivery, SourceKind
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import business
from townsquare.gateway.schema import Example, Field, MethodError

BEIJING = ZoneInfo("Asia/Shanghai")
FORMAT = "%Y-%m-%d %H:%M:%S"


def _when(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime(FORMAT) if value else ""


def _bad(text: str) -> TownsquareError:
    return TownsquareError(text.replace("{", "{{").replace("}", "}}"),
                           code="invalid_parameter")


def _time(values: Mapping[str, Any], name: str, *, required: bool = False
          ) -> datetime | None:
    text = (values.get(name) or "").strip()
    if not text:
        if required:
            raise _bad(f"参数无效：缺少 {name}")
        return None
    try:
        return datetime.strptime(text, FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise _bad(f"参数无效：{name} 应为 yyyy-MM-dd HH:mm:ss") from None


def _place(values: Mapping[str, Any], name: str) -> Place:
    raw = values.get(name) or {}
    try:
        return Place(name=str(raw.get("name", ""))[:64], phone=str(raw.get("phone", ""))[:32],
                     address=str(raw.get("address", "")), lat=float(raw["lat"]),
                     lng=float(raw["lng"]))
    except (KeyError, TypeError, ValueError):
        raise _bad(f"参数无效：{name} 需要 address、lat、lng") from None


def _refusals(handler: Callable[[CallContext], Mapping[str, Any]]
              ) -> Callable[[CallContext], Mapping[str, Any]]:
    """A refusal answered as 40004 with a DELIVERY.* sub_code and Chinese text."""
    def run(context: CallContext) -> Mapping[str, Any]:
        try:
            return handler(context)
        except TownsquareError as error:
            zh = catalogue("zh_CN")
            code = "invalid_parameter" if error.code == "invalid" else error.code
            raise business("DELIVERY." + code.upper(),
                           error.render(lambda m: zh.get(m, m))) from None
    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _answer(d: Delivery) -> dict[str, Any]:
    return {k: v for k, v in {
        "delivery_id": d.public_id, "out_delivery_no": d.source_ref, "status": d.status.value,
        "provider": d.provider or "", "fee": fen_to_yuan(d.fee_fen) if d.fee_fen is not None
        else "", "courier_name": d.courier_name, "courier_phone": d.courier_phone,
        "courier_lat": d.courier_lat, "courier_lng": d.courier_lng,
        "pickup_eta": _when(d.pickup_eta), "dropoff_eta": _when(d.dropoff_eta),
        "picked_up_time": _when(d.picked_up_at), "delivered_time": _when(d.delivered_at),
        "tracking_url": d.tracking_url,
    }.items() if v not in ("", None)}


def _find(context: CallContext) -> Delivery:
    values = context.values
    merchant = context.merchant
    if values.get("delivery_id"):
        try:
            found = service.by_public_id(context.db, values["delivery_id"])
        except NotFound:
            found = None
    elif values.get("out_delivery_no"):
        found = service.by_source(context.db, source_kind=SourceKind.GATEWAY.value,
                                  source_ref=values["out_delivery_no"],
                                  merchant_id=merchant.id)
    else:
        raise _bad("参数无效：delivery_id 与 out_delivery_no 至少给一个")
    if found is None or found.merchant_id != merchant.id:
        raise TownsquareError("No such delivery.", code="not_exist")
    return found


@_refusals
def delivery_quote(context: CallContext) -> Mapping[str, Any]:
    v = context.values
    ready = _time(v, "ready_time") or clock.now()
    ranked, errors = dispatch.quote(
        context.db, actor=None, merchant=context.merchant, pickup=_place(v, "pickup"),
        dropoff=_place(v, "dropoff"), value_fen=v["value"] or 0, items=v["items"] or [],
        pickup_ready_at=ready, promised_by=_time(v, "promised_time"), settings=context.settings)
    return {
        "quotes": [{"provider": r.quote.provider, "fee": fen_to_yuan(r.quote.fee_fen),
                    "pickup_eta": _when(r.quote.pickup_eta),
                    "dropoff_eta": _when(r.quote.dropoff_eta),
                    "expire_time": _when(r.quote.expires_at), "reason": r.reason}
                   for r in ranked],
        "unavailable": [{"provider": name, "code": exc.code} for name, exc in errors.items()],
    }


@_refusals
def delivery_create(context: CallContext) -> Mapping[str, Any]:
    v = context.values
    out_no = v["out_delivery_no"].strip()
    delivery = service.request(
        context.db, actor=None, merchant=context.merchant, source_kind=SourceKind.GATEWAY.value,
        source_ref=out_no, pickup=_place(v, "pickup"), dropoff=_place(v, "dropoff"),
        value_fen=v["value"] or 0, items=[str(i) for i in v["items"] or []],
        pickup_ready_at=_time(v, "ready_time") or clock.now(),
        promised_by=_time(v, "promised_time"),
        idempotency_key=f"gw:{context.app.app_id}:{out_no}", settings=context.settings)
    return _answer(delivery)


@_refusals
def delivery_query(context: CallContext) -> Mapping[str, Any]:
    return _answer(_find(context))


@_refusals
def delivery_cancel(context: CallContext) -> Mapping[str, Any]:
    found = _find(context)
    cancelled = dispatch.cancel(delivery_id=found.public_id, actor=None,
                                reason=context.values["reason"] or "cancelled by app",
                                db=context.db, settings=context.settings)
    return _answer(cancelled)


PLACE = N_("An object {name, phone, address, lat, lng}: where the courier picks up or drops "
           "off (latitude and longitude in degrees, WGS-84).")
DELIVERY_ID = Field("delivery_id", "string", N_("Townsquare's delivery id (dlv_…); give it or "
                                                "out_delivery_no."), max_length=40, default="")
OUT_NO_REF = Field("out_delivery_no", "string", N_("The app's own delivery number; give it or "
                                                   "delivery_id."), max_length=64, default="")
PARCEL = (
    Field("pickup", "object", PLACE, required=True),
    Field("dropoff", "object", PLACE, required=True),
    Field("value", "amount", N_("What the parcel is worth, in yuan (for the courier's "
                                "insurance)."), default=0),
    Field("items", "array", N_("What is in the parcel, as text lines (at most 50)."),
          max_length=50, default=[]),
    Field("ready_time", "string", N_("When the parcel is ready for pickup, yyyy-MM-dd "
                                     "HH:mm:ss in Beijing time; now when left out."),
          max_length=19, default=""),
    Field("promised_time", "string", N_("The drop-off promised to the resident, yyyy-MM-dd "
                                        "HH:mm:ss; the merchant's promise when left out."),
          max_length=19, default=""),
)
NOT_EXIST = MethodError("40004", "DELIVERY.NOT_EXIST",
                        N_("The merchant the call acts for has no such delivery."))
INVALID = MethodError("40004", "DELIVERY.INVALID_PARAMETER",
                      N_("A place lacks its address or position, or a time is malformed."))
PLACE_EXAMPLE = {"name": "热干面馆", "phone": "027-88886666",
                 "address": "武汉市洪山区光谷大道 1 号",
                 "lat": 30.5052, "lng": 114.4085}
DROP_EXAMPLE = {"name": "李女士", "phone": "13900000000", "address": "武汉市洪山区珞喻路 100 号",
                "lat": 30.52, "lng": 114.39}
ANSWER_EXAMPLE = {"delivery_id": "dlv_4kq9x2m7c1v8b3n5", "out_delivery_no": "D-20261207-0001",
                  "status": "assigned", "provider": "dada", "fee": "6.00",
                  "courier_name": "张师傅", "dropoff_eta": "2026-12-07 12:40:00"}

METHODS: tuple[Method, ...] = (
    Method("townsquare.logistics.delivery.quote", "delivery", delivery_quote,
           N_("What each courier provider (and the shop's own riders, when one is free) would "
              "charge for a parcel now, best first by the merchant's dispatch policy. Books "
              "nothing."), PARCEL,
           Example({"pickup": PLACE_EXAMPLE, "dropoff": DROP_EXAMPLE, "value": "32.00",
                    "items": ["热干面 x2"]},
                   {"quotes": [{"provider": "dada", "fee": "6.00",
                                "pickup_eta": "2026-12-07 12:10:00",
                                "dropoff_eta": "2026-12-07 12:40:00",
                                "expire_time": "2026-12-07 12:05:00", "reason": "cheapest"}],
                    "unavailable": [{"provider": "self", "code": "provider_rejected"}]}),
           (INVALID,), writes=False),
    Method("townsquare.logistics.delivery.create", "delivery", delivery_create,
           N_("Ask for a delivery once: booked right after the call by the merchant's policy, "
              "re-booked elsewhere if a provider fails. A repeat of out_delivery_no answers the "
              "same delivery."),
           (Field("out_delivery_no", "string", N_("The app's own delivery number: its "
                                                  "idempotency key."),
                  required=True, max_length=64), *PARCEL),
           Example({"out_delivery_no": "D-20261207-0001", "pickup": PLACE_EXAMPLE,
                    "dropoff": DROP_EXAMPLE, "value": "32.00", "items": ["热干面 x2"]},
                   {**ANSWER_EXAMPLE, "status": "quoted"}),
           (INVALID, MethodError("40004", "DELIVERY.IDEMPOTENCY_MISMATCH",
                                 N_("This out_delivery_no was used for another delivery.")))),
    Method("townsquare.logistics.delivery.query", "delivery", delivery_query,
           N_("A delivery's status, provider, fee, courier and times."),
           (DELIVERY_ID, OUT_NO_REF),
           Example({"out_delivery_no": "D-20261207-0001"}, ANSWER_EXAMPLE),
           (NOT_EXIST,), writes=False),
    Method("townsquare.logistics.delivery.cancel", "delivery", delivery_cancel,
           N_("Cancel a delivery before pickup (after assignment, the provider's rules decide)."),
           (DELIVERY_ID, OUT_NO_REF,
            Field("reason", "string", N_("Why, shown in the merchant's delivery log."),
                  max_length=200, default="")),
           Example({"out_delivery_no": "D-20261207-0001", "reason": "顾客取消"},
                   {**ANSWER_EXAMPLE, "status": "cancelled"}),
           (NOT_EXIST, MethodError("40004", "DELIVERY.NOT_CANCELLABLE",
                                   N_("The courier has picked it up already.")))),
)

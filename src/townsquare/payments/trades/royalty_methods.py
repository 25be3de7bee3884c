"""The royalty methods of the open gateway (package `payment`): bind, unbind and list a
merchant's receivers, settle part of a paid trade to them and query a settle, answering as
Alipay's do. The rules are `royalty.py`'s; the parameters are declared in
`payments/gateway_methods.py`.

A receiver is named as Alipay names one (`type` and `account`), with Townsquare's public ids
for Alipay's `2088…` user ids: `type` `userId`, `account` an ISV's `isv_…` or a community's
`com_…`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from math import ceil
from typing import Any

from townsquare.core.money import fen_to_yuan
from townsquare.gateway.methods import CallContext
from townsquare.payments.trades import royalty, service
from townsquare.payments.trades.errors import InvalidParameter, TradeNotFound
from townsquare.payments.trades.gateway_methods import (
    MAX_FEN,
    _bad,
    _refusals,
    out_no_param,
    text_param,
)
from townsquare.payments.trades.models import Trade, TradeSettle
from townsquare.payments.trades.notices import beijing

USER_ID = "userId"  # the only receiver type: Townsquare's public ids stand for Alipay's ids
_YUAN = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
MAX_PAGE_SIZE = 100


def _type(value: Any, name: str) -> None:
    if value not in (None, "", USER_ID):
        raise _bad(f"参数无效：{name} 只支持 userId（账号填 isv_… 或 com_… 公开编号）")


def _text(item: Mapping[str, Any], name: str, most: int) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > most:
        raise _bad(f"参数无效：{name} 应为 {most} 个字符以内的字符串")
    return value.strip()


def _receivers(values: Mapping[str, Any]) -> list[royalty.Receiver]:
    found = []
    for item in values.get("receiver_list") or []:
        if not isinstance(item, dict):
            raise _bad("参数无效：receiver_list 的每一项应为对象")
        _type(item.get("type"), "receiver_list.type")
        account = _text(item, "account", 32)
        if not account:
            raise _bad("参数无效：receiver_list.account 不能为空")
        found.append(royalty.Receiver(account=account, name=_text(item, "name", 64),
                                      memo=_text(item, "memo", 128)))
    return found


def _fen(value: Any, name: str) -> int:
    """A nested amount (the schema checks only top-level ones): yuan, two places at most."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(f"参数无效：{name} 格式错误")
    text = str(value).strip()
    if not _YUAN.match(text):
        raise _bad(f"参数无效：{name} 格式错误，收到 {text[:20]}")
    whole, _, cents = text.partition(".")
    fen = int(whole) * 100 + int((cents + "00")[:2])
    if not 1 <= fen <= MAX_FEN:
        raise _bad(f"参数无效：{name} 须在 0.01 至 100000000.00 之间")
    return fen


def _parts(context: CallContext, values: Mapping[str, Any]) -> list[royalty.Part]:
    found = []
    merchant = context.merchant
    for item in values.get("royalty_parameters") or []:
        if not isinstance(item, dict):
            raise _bad("参数无效：royalty_parameters 的每一项应为对象")
        if item.get("royalty_type") not in (None, "", "transfer"):
            raise _bad("参数无效：royalty_type 只支持 transfer")
        if item.get("amount_percentage") not in (None, ""):
            raise _bad("参数无效：请用 amount 给出分账金额，不支持 amount_percentage")
        _type(item.get("trans_in_type"), "trans_in_type")
        _type(item.get("trans_out_type"), "trans_out_type")
        trans_out = _text(item, "trans_out", 32)
        if trans_out and trans_out != merchant.public_id:
            raise _bad("参数无效：trans_out 须为本交易的商户")
        account = _text(item, "trans_in", 32)
        if not account:
            raise _bad("参数无效：trans_in 不能为空")
        found.append(royalty.Part(account=account, amount_fen=_fen(item.get("amount"), "amount"),
                                  desc=_text(item, "desc", 200)))
    if len({p.account for p in found}) != len(found):
        raise _bad("参数无效：同一分账收入方只能出现一次")
    return found


def _trade(context: CallContext, trade_no: str) -> Trade:
    trade = service.find(context.db, app=context.app, trade_no=trade_no)
    if trade.merchant_id != context.merchant.id:
        raise TradeNotFound("No such trade.")
    return trade


@_refusals
def relation_bind(context: CallContext) -> Mapping[str, Any]:
    royalty.bind(context.db, merchant=context.merchant,
                 out_request_no=out_no_param(context.values, "out_request_no", required=True),
                 receivers=_receivers(context.values))
    return {"result_code": "SUCCESS"}


@_refusals
def relation_unbind(context: CallContext) -> Mapping[str, Any]:
    royalty.unbind(context.db, merchant=context.merchant,
                   out_request_no=out_no_param(context.values, "out_request_no", required=True),
                   receivers=_receivers(context.values))
    return {"result_code": "SUCCESS"}


@_refusals
def relation_batchquery(context: CallContext) -> Mapping[str, Any]:
    out_no_param(context.values, "out_request_no", required=True)
    page = context.values.get("page_num") or 1
    size = context.values.get("page_size") or 20
    rows, total = royalty.receivers(context.db, merchant=context.merchant, page=page,
                                    page_size=size)
    return {
        "result_code": "SUCCESS",
        "receiver_list": [{"type": USER_ID, "account": row.account, "name": row.name,
                           **({"memo": row.memo} if row.memo else {})} for row in rows],
        "total_page_num": max(1, ceil(total / size)), "total_record_num": total,
        "current_page_num": page, "current_page_size": len(rows),
    }


@_refusals
def order_settle(context: CallContext) -> Mapping[str, Any]:
    values = context.values
    out_request_no = out_no_param(values, "out_request_no", required=True)
    trade = _trade(context, text_param(values, "trade_no", required=True))
    parts = _parts(context, values)
    if not parts:
        raise InvalidParameter("A settle has from 1 to {most} parts, each above zero.",
                               most=royalty.MAX_RECEIVERS)
    row, _moved = royalty.settle(context.db, trade=trade, out_request_no=out_request_no,
                                 parts=parts, operator_id=text_param(values, "operator_id"))
    return {"trade_no": trade.trade_no, "settle_no": row.settle_no}


def _detail(context: CallContext, row: TradeSettle, index: int) -> dict[str, Any]:
    part = row.details[index]
    return {"operation_type": "transfer", "execute_dt": beijing(row.settled_at),
            "trans_out": context.merchant.public_id, "trans_out_type": USER_ID,
            "trans_in": part["trans_in"], "trans_in_type": USER_ID,
            "amount": fen_to_yuan(part["amount_fen"]), "state": "SUCCESS",
            "detail_id": f"{row.settle_no}{index + 1:03d}"}


@_refusals
def order_settle_query(context: CallContext) -> Mapping[str, Any]:
    values = context.values
    settle_no = text_param(values, "settle_no")
    trade_no = text_param(values, "trade_no")
    out_request_no = out_no_param(values, "out_request_no", required=False)
    if not settle_no and not (trade_no and out_request_no):
        raise _bad("参数无效：请传 settle_no，或同时传 trade_no 与 out_request_no")
    trade = _trade(context, trade_no) if trade_no else None
    row = royalty.find_settle(context.db, trade=trade, out_request_no=out_request_no,
                              settle_no=settle_no)
    if row is not None and trade is None:
        trade = context.db.get(Trade, row.trade_id)
        if trade is None or trade.app_id != context.app.id \
                or trade.merchant_id != context.merchant.id:
            row = None
    if row is None:
        raise TradeNotFound("No such settle.")
    return {"out_request_no": row.out_request_no, "operation_dt": beijing(row.settled_at),
            "royalty_detail_list": [_detail(context, row, i) for i in range(len(row.details))]}

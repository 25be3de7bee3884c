"""Messaging through the open gateway: `alipay.open.app.mini.templatemessage.send` delivers one
of the mini-app's templates to a user who subscribed to it (one subscription, one message)."""

from __future__ import annotations

import json
from typing import Any

from townsquare.core.errors import Conflict
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import business, invalid, missing
from townsquare.messaging import service


def _data(raw: Any) -> dict[str, Any]:
    """Alipay's `data` is a JSON object (or a string of one) of `{"name": {"value": …}}`; plain
    `{"name": value}` is taken too."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw else {}
        except ValueError:
            raise invalid("parameter", "data 不是合法的 JSON") from None
    if not isinstance(raw, dict):
        raise invalid("parameter", "data 必须是 JSON 对象")
    return {k: v.get("value", "") if isinstance(v, dict) else v for k, v in raw.items()}


def send(context: CallContext) -> dict[str, Any]:
    biz = context.biz
    to_user, template = str(biz.get("to_user_id", "")), str(biz.get("user_template_id", ""))
    if not to_user:
        raise missing("parameter", "缺少 to_user_id")
    if not template:
        raise missing("parameter", "缺少 user_template_id")
    try:
        message = service.send_to_sub(
            context.db, settings=context.settings, miniapp=context.miniapp(), sub=to_user,
            key=template, data=_data(biz.get("data", {})), link=str(biz.get("page", "")),
        )
    except Conflict as refused:
        if refused.code == "not_subscribed":
            raise business(
                "USER_NOT_SUBSCRIBED", "用户未订阅该消息模板，或订阅的次数已用完"
            ) from None
        raise
    return {"msg_id": message.public_id}


METHODS = (
    Method(
        "alipay.open.app.mini.templatemessage.send", "messaging", send,
        "向订阅了模板的用户发送一条订阅消息（一次订阅，一条消息）",
        {"to_user_id": "用户 id（alipay.system.oauth.token 返回的 user_id）",
         "user_template_id": "消息模板的 key", "page": "点击消息打开的站内路径",
         "data": '模板变量，如 {"amount": {"value": "12.50"}}'},
    ),
)

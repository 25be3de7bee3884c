"""Messaging through the open gateway: `alipay.open.app.mini.templatemessage.send` delivers one
of the mini-app's templates to a user who subscribed to it (one subscription, one message)."""

from __future__ import annotations

from typing import Any

from townsquare.core.errors import Conflict
from townsquare.core.i18n import N_
from townsquare.gateway.app_auth import MINI_APP_FIELD
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import business
from townsquare.gateway.schema import Example, Field, MethodError
from townsquare.messaging import service


def _data(raw: dict[str, Any]) -> dict[str, Any]:
    """Alipay's `data` is `{"name": {"value": …}}`; plain `{"name": value}` is taken too."""
    return {k: v.get("value", "") if isinstance(v, dict) else v for k, v in raw.items()}


def send(context: CallContext) -> dict[str, Any]:
    values = context.values
    try:
        message = service.send_to_sub(
            context.db, settings=context.settings, miniapp=context.miniapp(),
            sub=values["to_user_id"], key=values["user_template_id"],
            data=_data(values["data"] or {}), link=values["page"],
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
        N_("Send one subscription message to a user who subscribed to the template (one "
           "subscription, one message)."),
        (
            Field("to_user_id", "string", N_("The user's id (the user_id "
                                             "alipay.system.oauth.token answered)."),
                  required=True, max_length=64),
            Field("user_template_id", "string", N_("The message template's key."),
                  required=True, max_length=64),
            Field("page", "string", N_("The in-app path the message opens."), max_length=255,
                  default=""),
            Field("data", "object", N_('The template\'s variables, as {"name": {"value": '
                                       '"…"}} (an object or a JSON string of one).'),
                  default={}),
            MINI_APP_FIELD,
        ),
        Example(
            {"to_user_id": "ou_0f3c2a9d8b7e6f5a4c3b2a1908f7e6d5",
             "user_template_id": "order_ready", "page": "/orders/A-17",
             "data": {"order": {"value": "A-17"}, "amount": {"value": "12.50"}}},
            {"msg_id": "msg_8Kq2Vx7RfT3nYw"},
        ),
        (
            MethodError("40004", "USER_NOT_SUBSCRIBED",
                        N_("The user did not subscribe to this template, or has no message "
                           "left of a one-time subscription.")),
            MethodError("40004", "NOT_FOUND", N_("The mini-app has no template with this key.")),
            MethodError("40002", "isv.invalid-parameter",
                        N_("A variable the template needs is missing from data.")),
        ),
    ),
)

"""Where the resident's browser goes after paying, and what it carries.

Only three places: the `return_url` the merchant's app gave with the trade (page/wap pay, through
its signed call; never an address from the browser, so no open redirect), a page of this site
the platform's own trade named (an order's page, `/me/orders/…`, a repair's, `/community/…`),
or back into the mini-app in the shell. A page/wap pay return carries Alipay's synchronous
return parameters (`alipay.trade.page.pay.return` / `alipay.trade.wap.pay.return`), signed
RSA2 with the platform key over all but `sign` and `sign_type`, which the SDKs' `verify`
checks."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.money import fen_to_yuan
from townsquare.core.settings import Settings
from townsquare.core.text import is_local_path
from townsquare.gateway import keys
from townsquare.gateway.models import GatewayApp
from townsquare.gateway.protocol import signing
from townsquare.miniapps.models import MiniApp
from townsquare.payments.trades.models import Trade
from townsquare.payments.trades.notices import seller_id

OWN_PAGES = ("/me/orders/", "/community/")  # pages of this site a trade may return to
# (ordering's orders; the community's bookings, repairs and bills)
RETURN_METHODS = {
    "FAST_INSTANT_TRADE_PAY": "alipay.trade.page.pay.return",
    "QUICK_WAP_WAY": "alipay.trade.wap.pay.return",
    "QUICK_WAP_PAY": "alipay.trade.wap.pay.return",
}


def return_params(db: Session, *, settings: Settings, trade: Trade) -> dict[str, str]:
    """The signed parameters appended to a page/wap pay trade's return_url."""
    app = db.get(GatewayApp, trade.app_id)
    assert app is not None
    stamp = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "charset": "utf-8", "method": RETURN_METHODS.get(trade.product_code,
                                                         "alipay.trade.page.pay.return"),
        "out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no,
        "total_amount": fen_to_yuan(trade.total_fen), "seller_id": seller_id(db, trade),
        "app_id": app.app_id, "auth_app_id": app.app_id, "version": "1.0",
        "timestamp": stamp,
    }
    key = keys.platform_private_key(db, secret=settings.effective_secret_key)
    params["sign"] = signing.sign(key, signing.string_to_sign(params,
                                                              exclude=("sign", "sign_type")))
    params["sign_type"] = "RSA2"
    return params


def return_target(db: Session, *, settings: Settings, trade: Trade) -> str:
    """Where to send the browser after `trade` was paid."""
    url = trade.return_url
    if url and urlsplit(url).scheme in ("http", "https"):
        if trade.product_code in RETURN_METHODS:
            joiner = "&" if urlsplit(url).query else "?"
            return url + joiner + urlencode(return_params(db, settings=settings, trade=trade))
        return url
    if url and url.startswith(OWN_PAGES) and is_local_path(url):
        return url
    miniapp = db.get(MiniApp, trade.miniapp_id)
    return f"/apps/{miniapp.public_id}" if miniapp else "/"

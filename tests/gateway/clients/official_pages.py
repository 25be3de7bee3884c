"""The official SDK building a page/wap pay link as a merchant's web server does
(`DefaultAlipayClient.page_execute`): a signed URL (GET) or an auto-submitting form (POST) that
the resident's browser opens at the gateway. Prints one JSON result per call."""

import json
import sys

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradeWapPayRequest import AlipayTradeWapPayRequest

REQUESTS = {"alipay.trade.page.pay": AlipayTradePagePayRequest,
            "alipay.trade.wap.pay": AlipayTradeWapPayRequest}


def main():
    job = json.load(sys.stdin)
    config = AlipayClientConfig()
    config.server_url = job["server_url"]
    config.app_id = job["app_id"]
    config.app_private_key = job["private_key"]
    config.alipay_public_key = job["platform_public_key"]
    client = DefaultAlipayClient(config)
    for call in job["calls"]:
        request = REQUESTS[call["method"]]()
        request.biz_content = call["biz"]
        request.return_url = call.get("return_url")
        request.notify_url = call.get("notify_url")
        built = client.page_execute(request, http_method=call.get("http_method", "GET"))
        print(json.dumps({"ok": True, "built": built}, ensure_ascii=False))


main()

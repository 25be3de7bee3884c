"""The community SDK building a page/wap pay link (`api_alipay_trade_page_pay` /
`api_alipay_trade_wap_pay` return the signed query string; the merchant puts the gateway in
front). Prints one JSON result per call."""

import json
import sys
import textwrap

from alipay import AliPay


def pem(body, kind):
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n"


def main():
    job = json.load(sys.stdin)
    client = AliPay(appid=job["app_id"],
                    app_private_key_string=pem(job["private_key"], "RSA PRIVATE KEY"),
                    alipay_public_key_string=pem(job["platform_public_key"], "PUBLIC KEY"),
                    sign_type="RSA2")
    for call in job["calls"]:
        build = (client.api_alipay_trade_page_pay if call["method"] == "alipay.trade.page.pay"
                 else client.api_alipay_trade_wap_pay)
        biz = dict(call["biz"])
        query = build(biz.pop("subject"), biz.pop("out_trade_no"), biz.pop("total_amount"),
                      return_url=call.get("return_url"), notify_url=call.get("notify_url"),
                      **biz)
        print(json.dumps({"ok": True, "built": job["server_url"] + "?" + query},
                         ensure_ascii=False))


main()

"""An ISV backend using the community `python-alipay-sdk`, unmodified. Reads the calls to make as
JSON on stdin, prints one JSON result per call."""

import json
import sys
import textwrap

from alipay import AliPay, ISVAliPay
from alipay.exceptions import AliPayException, AliPayValidationError


def pem(body, kind):
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n"


def client_for(job, app_auth_token=None):
    options = dict(
        appid=job["app_id"],
        app_private_key_string=pem(job["private_key"], "RSA PRIVATE KEY"),
        alipay_public_key_string=pem(job["platform_public_key"], "PUBLIC KEY"),
        sign_type=job.get("sign_type", "RSA2"),
    )
    if app_auth_token:
        client = ISVAliPay(app_auth_token=app_auth_token, **options)
    else:
        client = AliPay(**options)
    client._gateway = job.get("server_url", "")  # where its sandbox switch points it
    return client


def isv_call(job, call):
    options = dict(
        appid=job["app_id"],
        app_private_key_string=pem(job["private_key"], "RSA PRIVATE KEY"),
        alipay_public_key_string=pem(job["platform_public_key"], "PUBLIC KEY"),
        sign_type=job.get("sign_type", "RSA2"),
    )
    if call["isv"] == "exchange":
        client = ISVAliPay(app_auth_code=call["app_auth_code"], **options)
    else:
        client = ISVAliPay(app_auth_token=call["app_auth_token"], **options)
    client._gateway = job.get("server_url", "")
    try:
        if call["isv"] == "query":
            response = client.api_alipay_open_auth_token_app_query()
        else:
            response = client.api_alipay_open_auth_token_app(call.get("refresh_token"))
        return {"ok": True, "response": response}
    except AliPayException as exc:
        return {"ok": False, "error": f"AliPayException: {exc}"}


def main():
    job = json.load(sys.stdin)
    if "notification" in job:  # the SDK's own notification check
        form = dict(job["notification"])
        signature = form.pop("sign")
        verified = client_for(job).verify(form, signature)
        print(json.dumps({"ok": True, "verified": bool(verified)}))
        return
    for call in job["calls"]:
        if "isv" in call:  # the SDK's own ISV methods (ISVAliPay), as an ISV backend uses them
            print(json.dumps(isv_call(job, call), ensure_ascii=False))
            continue
        client = client_for(job, call.get("app_auth_token"))
        extra = dict(call.get("params", {}))
        if call.get("auth_token"):
            extra["auth_token"] = call["auth_token"]
        try:
            response = client.server_api(call["method"], call.get("biz") or {}, **extra)
            print(json.dumps({"ok": True, "response": response}, ensure_ascii=False))
        except AliPayValidationError as exc:
            print(json.dumps({"ok": False, "error": f"AliPayValidationError: {exc!r}"}))
        except AliPayException as exc:
            print(json.dumps({"ok": False, "error": f"AliPayException: {exc}"}, ensure_ascii=False))


main()

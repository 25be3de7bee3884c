"""An ISV backend using the official `alipay-sdk-python`, unmodified. Reads the calls to make as
JSON on stdin, prints one JSON result per call. Runs in its own process: both SDKs install a
top-level package named `alipay`."""

import importlib
import json
import sys

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient


class GenericRequest:
    """A method the SDK has no request class for, written as an ISV would (the SDK's classes
    are the same shape: get_params, get_multipart_params, need_encrypt)."""

    def __init__(self, method, biz):
        self.method, self.biz = method, biz
        self.need_encrypt = False

    def get_params(self):
        params = {"method": self.method, "version": "1.0"}
        if self.biz:
            params["biz_content"] = json.dumps(self.biz, ensure_ascii=False, sort_keys=True,
                                               separators=(",", ":"))
        return params

    def get_multipart_params(self):
        return {}


def request_for(call):
    name = "".join(p.capitalize() for p in call["method"].split(".")) + "Request"
    try:
        module = importlib.import_module(f"alipay.aop.api.request.{name}")
    except ImportError:
        request = GenericRequest(call["method"], call.get("biz"))
    else:
        request = getattr(module, name)()
        for key, value in call.get("params", {}).items():
            setattr(request, key, value)
        if call.get("biz"):
            request.biz_content = call["biz"]
    for key in ("auth_token", "app_auth_token"):
        if call.get(key) and hasattr(request, "add_other_text_param"):
            request.add_other_text_param(key, call[key])  # the SDK's way to add a common one
        elif call.get(key):
            request.get_params = _with(request.get_params, key, call[key])
    return request


def _with(get_params, key, value):
    def wrapped():
        params = get_params()
        params[key] = value
        return params
    return wrapped


def verify_notification(job):
    """How an ISV checks a notification with this SDK: the sorted parameters without sign and
    sign_type, verified with the platform's public key."""
    from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa

    form = dict(job["notification"])
    sign = form.pop("sign")
    form.pop("sign_type", None)
    message = get_sign_content(form)
    try:
        ok = verify_with_rsa(job["platform_public_key"], message.encode("utf-8"), sign)
    except Exception:  # rsa.VerificationError: the SDK raises on a bad signature
        ok = False
    print(json.dumps({"ok": True, "verified": bool(ok)}))


def main():
    job = json.load(sys.stdin)
    if "notification" in job:
        return verify_notification(job)
    config = AlipayClientConfig()
    config.server_url = job["server_url"]
    config.app_id = job["app_id"]
    config.app_private_key = job["private_key"]
    config.alipay_public_key = job["platform_public_key"]
    config.sign_type = job.get("sign_type", "RSA2")
    client = DefaultAlipayClient(config)
    for call in job["calls"]:
        try:
            content = client.execute(request_for(call))
            print(json.dumps({"ok": True, "response": json.loads(content)}, ensure_ascii=False))
        except Exception as exc:  # the SDK's own exceptions: what an ISV would see
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"},
                             ensure_ascii=False))


main()

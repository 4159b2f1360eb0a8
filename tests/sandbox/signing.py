"""Hand-written signing for the tests, from the providers' documents (independent of crowdsms)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping


def joined(params: Mapping[str, str], leave_out: set[str]) -> str:
    """``k=v&k=v`` of the sorted params not in ``leave_out``."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in leave_out)


def submail(
    params: Mapping[str, str],
    appid: str,
    appkey: str,
    *,
    sign_type: str = "md5",
    leave_out: set[str] | None = None,
) -> str:
    """SUBMAIL: hash(appid + appkey + S + appid + appkey)."""
    signed = joined(params, {"signature", "tag"} | (leave_out or set()))
    text = f"{appid}{appkey}{signed}{appid}{appkey}".encode()
    return hashlib.new(sign_type, text).hexdigest()


def submail_request(
    appid: str, appkey: str, *, timestamp: int | None = None, **fields: str
) -> dict[str, str]:
    """A signed SUBMAIL multisend/send form (sign_version 2: content and multi unsigned)."""
    params = {
        "appid": appid,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "sign_type": "md5",
        "sign_version": "2",
        **fields,
    }
    params["signature"] = submail(params, appid, appkey, leave_out={"content", "multi"})
    return params


def sendcloud(params: Mapping[str, str], key: str, *, algorithm: str = "md5") -> str:
    """SendCloud: hash(smsKey & S & smsKey)."""
    text = f"{key}&{joined(params, {'signature'})}&{key}".encode()
    return hashlib.new(algorithm, text).hexdigest()


def sendcloud_request(user: str, key: str, **fields: str) -> dict[str, str]:
    """A signed SendCloud form with a fresh millisecond timestamp."""
    params = {"smsUser": user, "timestamp": str(int(time.time() * 1000)), **fields}
    params["signature"] = sendcloud(params, key)
    return params


def crowdtask(action_uri: str, localtime: str, secret: str) -> str:
    """CrowdTask: hex(HMAC-MD5(secret, action_uri & localtime))."""
    return hmac.new(secret.encode(), f"{action_uri}&{localtime}".encode(), hashlib.md5).hexdigest()

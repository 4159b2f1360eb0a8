"""SUBMAIL: ``sms/multisend``, ``sms/send`` and ``service/timestamp``, with SUBHOOK pushes.

SUBHOOK pushes, when a webhook is set: a ``request`` event for every message a send
processed, then its ``delivered`` or ``dropped`` report (each with the request's ``tag``,
if it had one), and an ``mo`` event for each reply added to the sandbox.

Served under ``/submail``; each path also answers with a ``.json``, ``.xml`` or ``.yaml``
suffix, in that format. Request-level failures are one error object
(``{"status": "error", "code": 108, "msg": "Invalid signature"}``) with HTTP 200, as SUBMAIL
answers in practice; ``multisend`` answers a list with one item per recipient, in order,
whose error items carry no ``to``.

Signatures are checked by this module's own implementation of SUBMAIL's signing rules (not
the SDK's): every parameter but ``signature`` and ``tag`` (with ``sign_version=2`` also
``multi`` and ``content`` for multisend, ``content`` for send), sorted, joined ``k=v&k=v``
with raw values, hashed as ``appid + appkey + S + appid + appkey``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from crowdsms.sandbox._http import MalformedBody, Params, json_bytes, read_params
from crowdsms.sandbox._ledger import LedgerEntry
from crowdsms.sandbox._state import DeliveryReport, Reply, SandboxState
from crowdsms.sandbox._text import segments, valid_number
from crowdsms.sandbox.emulators.submail._formats import FORMATS, render
from crowdsms.sandbox.emulators.submail._settings import SubmailSettings

__all__ = ["MESSAGES", "SubmailEmulator", "submail_signature"]

PROVIDER: Final = "submail"

MESSAGES: Final[Mapping[int, str]] = {
    101: "Incorrect APP ID",
    107: "Invalid sign_type. The sign_type must be set as MD5 or SHA1 or normal",
    108: "Invalid signature",
    109: "Invalid appkey",
    111: "Empty signature",
    114: "This phone number has been blocked by account blocklist",
    151: "timestamp error",
    152: "Invalid timestamp",
    251: "Incorrect recipient message address",
    307: "Incorrect json format, please check vars and link parameters",
    310: "The tag is limited to 32 characters",
    401: "Message signature cannot be empty",
    403: "Message content cannot be empty",
    404: "Please limit message content and signature to 1000 characters",
    410: "empty multi value",
    411: "empty sms signature",
    412: "empty sms signature",
    413: "empty sms signature",
    903: "Your message account credit is not enough to support your sending request",
}
"""The codes the sandbox answers, with SUBMAIL's English messages."""

_SIGN_TYPES: Final = {"md5": hashlib.md5, "sha1": hashlib.sha1}
_SMS_SIGNATURE = re.compile(r"【([^【】]*)】")
_VAR = re.compile(r"@var\(([^)]*)\)")
_MAX_CONTENT = 1000
_MAX_TAG = 32

Handler = Callable[[Request], Awaitable[Response]]


def submail_signature(
    params: Mapping[str, str], *, appid: str, appkey: str, sign_type: str, exclude: frozenset[str]
) -> str:
    """SUBMAIL's md5/sha1 signature of ``params``, leaving out the names in ``exclude``."""
    signed = "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in exclude)
    text = f"{appid}{appkey}{signed}{appid}{appkey}"
    return _SIGN_TYPES[sign_type](text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _error(code: int) -> dict[str, Any]:
    return {"status": "error", "code": code, "msg": MESSAGES[code]}


class _Rejected(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _content_error(content: str) -> int | None:
    if not content:
        return 403
    if len(content) > _MAX_CONTENT:
        return 404
    match = _SMS_SIGNATURE.match(content)
    if match is None:
        return 411
    length = len(match.group(1))
    if length == 0:
        return 401
    if length > 10:
        return 412
    if length < 2:
        return 413
    return None


def _template(content: str) -> list[str]:
    """``content`` split into literal text and ``@var`` names, alternately."""
    return _VAR.split(content)


def _substitute(parts: list[str], variables: Mapping[str, Any]) -> str:
    if len(parts) == 1:
        return parts[0]
    text = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            text.append(part)
        elif part in variables:
            text.append(str(variables[part]))
        else:
            text.append(f"@var({part})")
    return "".join(text)


class SubmailEmulator:
    """The SUBMAIL endpoints of one sandbox."""

    provider: ClassVar[str] = PROVIDER
    settings_class: ClassVar[type[SubmailSettings]] = SubmailSettings

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def settings(self) -> SubmailSettings:
        """This emulator's current settings."""
        settings: SubmailSettings = self.state.settings.provider(PROVIDER)
        return settings

    def accounts(self) -> list[str]:
        """The configured accounts, the default first."""
        return list(self.settings.apps)

    def client_credentials(self, account: str) -> dict[str, str]:
        """The SDK client's credential keywords for ``account``."""
        return {"app_id": account, "app_key": self.settings.apps[account].reveal()}

    def webhook_options(self) -> dict[str, str]:
        """The keywords of the SDK's webhook receiver that verifies this emulator's pushes."""
        return {"key": self.settings.subhook_key.reveal()}

    def routes(self) -> list[BaseRoute]:
        """The routes, relative to ``/submail``."""
        return [
            *self._with_suffixes("/service/timestamp", self.timestamp, ["GET", "POST"]),
            *self._with_suffixes("/sms/send", self.send, ["POST"]),
            *self._with_suffixes("/sms/multisend", self.multisend, ["POST"]),
        ]

    def _with_suffixes(self, path: str, handler: Handler, methods: list[str]) -> list[Route]:
        return [
            Route(path, handler, methods=methods),
            Route(path + ".{answer_format}", handler, methods=methods),
        ]

    # -- endpoints ----------------------------------------------------------------------

    async def timestamp(self, request: Request) -> Response:
        """``service/timestamp``: the server's Unix time, unsigned."""
        return self._answer(request, {"timestamp": int(self.state.clock.now())})

    async def send(self, request: Request) -> Response:
        """``sms/send``: one message to one number."""
        try:
            params = await self._params(request)
            appid = self._authenticate(params, exclude={"content"}, default_version="1")
            answer = self._send(appid, params)
        except _Rejected as rejected:
            return self._answer(request, _error(rejected.code))
        return self._answer(request, answer)

    async def multisend(self, request: Request) -> Response:
        """``sms/multisend``: one content template, per-recipient variables."""
        try:
            params = await self._params(request)
            appid = self._authenticate(params, exclude={"multi", "content"}, default_version="2")
            answer: Any = self._multisend(appid, params)
        except _Rejected as rejected:
            answer = _error(rejected.code)
        return self._answer(request, answer)

    # -- request handling ---------------------------------------------------------------

    def _answer(self, request: Request, data: Any) -> Response:
        answer_format = request.path_params.get("answer_format", "json")
        if answer_format not in FORMATS:
            return PlainTextResponse("404 Not Found", status_code=404)
        return Response(render(data, answer_format), media_type=FORMATS[answer_format])

    async def _params(self, request: Request) -> Params:
        try:
            return await read_params(request)
        except MalformedBody:
            raise _Rejected(307) from None

    def _authenticate(self, params: Params, *, exclude: set[str], default_version: str) -> str:
        apps = self.settings.apps
        appid = params.get("appid")
        if appid not in apps:
            raise _Rejected(101)
        appkey = apps[appid].reveal()
        sign_type = (params.get("sign_type") or "normal").lower()
        if sign_type not in ("md5", "sha1", "normal"):
            raise _Rejected(107)
        signature = params.get("signature")
        if not signature:
            raise _Rejected(111)
        if sign_type == "normal":
            if not hmac.compare_digest(signature.encode(), appkey.encode()):
                raise _Rejected(109)
            return appid
        timestamp = params.get("timestamp")
        if not timestamp.isdigit():
            raise _Rejected(151)
        window = self.settings.timestamp_window
        if abs(self.state.clock.now() - int(timestamp)) > window:
            raise _Rejected(152)
        version = params.get("sign_version") or default_version
        if version not in ("1", "2"):
            raise _Rejected(108)
        excluded = {"signature", "tag"} | (exclude if version == "2" else set())
        expected = submail_signature(
            params.fields,
            appid=appid,
            appkey=appkey,
            sign_type=sign_type,
            exclude=frozenset(excluded),
        )
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise _Rejected(108)
        return appid

    def _checked_content(self, params: Params) -> tuple[str, str | None]:
        tag = params.fields.get("tag")
        if tag is not None and len(tag) > _MAX_TAG:
            raise _Rejected(310)
        content = params.get("content")
        problem = _content_error(content)
        if problem is not None:
            raise _Rejected(problem)
        return content, tag or None

    def _send(self, appid: str, params: Params) -> dict[str, Any]:
        content, tag = self._checked_content(params)
        settings = self.state.settings
        number = valid_number(params.get("to"), strict=settings.strict_phone_format)
        if number is None:
            raise _Rejected(251)
        if self.state.blocked(number):
            raise _Rejected(114)
        fee = segments(content, settings.segment_length, settings.long_segment_length)
        if not self.state.charge(PROVIDER, appid, fee):
            raise _Rejected(903)
        entry = self._entry(
            "sms/send", appid, number, content, None, {}, fee, self.state.clock.now()
        )
        self._push_reports(appid, self.state.record([entry], tag=tag, reports=self._pushing()))
        return {
            "status": "success",
            "send_id": entry.message_id,
            "fee": fee,
            "sms_credits": str(self.state.balance(PROVIDER, appid)),
        }

    def _multi(self, params: Params) -> list[Any]:
        value = params.raw.get("multi")
        if not isinstance(value, list):
            text = params.get("multi")
            if not text.strip():
                raise _Rejected(410)
            try:
                value = json.loads(text)
            except ValueError:
                raise _Rejected(307) from None
        if not isinstance(value, list) or not value:
            raise _Rejected(410)
        if len(value) > self.settings.multi_limit:
            raise _Rejected(410)
        return value

    def _multisend(self, appid: str, params: Params) -> list[dict[str, Any]]:
        content, tag = self._checked_content(params)
        multi = self._multi(params)
        settings = self.state.settings
        parts = _template(content)
        now = self.state.clock.now()
        results: list[dict[str, Any]] = []
        entries: list[LedgerEntry] = []
        for item in multi:
            if not isinstance(item, dict):
                results.append(_error(251))
                continue
            number = valid_number(item.get("to"), strict=settings.strict_phone_format)
            variables = item.get("vars", {})
            if number is None:
                results.append(_error(251))
            elif self.state.blocked(number):
                results.append(_error(114))
            elif not isinstance(variables, dict):
                results.append(_error(307))
            else:
                text = _substitute(parts, variables)
                fee = segments(text, settings.segment_length, settings.long_segment_length)
                if not self.state.charge(PROVIDER, appid, fee):
                    results.append(_error(903))
                    continue
                texts = {str(key): str(value) for key, value in variables.items()}
                entry = self._entry("sms/multisend", appid, number, text, content, texts, fee, now)
                entries.append(entry)
                results.append(
                    {"status": "success", "to": number, "send_id": entry.message_id, "fee": fee}
                )
        self._push_reports(appid, self.state.record(entries, tag=tag, reports=self._pushing()))
        return results

    def _entry(
        self,
        endpoint: str,
        appid: str,
        number: str,
        text: str,
        template: str | None,
        variables: dict[str, str],
        fee: int,
        now: float,
    ) -> LedgerEntry:
        return LedgerEntry(
            provider=PROVIDER,
            endpoint=endpoint,
            account=appid,
            phone=number,
            content=text,
            template=template,
            vars=variables,
            message_id=self.state.hex_id(),
            fee=fee,
            time=now,
        )

    # -- SUBHOOK ------------------------------------------------------------------------

    def _signed_event(self, fields: dict[str, Any]) -> tuple[bytes, str]:
        token = f"{self.state.rng.getrandbits(128):032x}"
        key = self.settings.subhook_key.reveal()
        fields["timestamp"] = int(self.state.clock.now())
        fields["token"] = token
        fields["signature"] = hashlib.md5((token + key).encode(), usedforsecurity=False).hexdigest()
        if self.settings.subhook_format == "json":
            return json_bytes(fields), "application/json"
        text = {name: str(value) for name, value in fields.items()}
        return urllib.parse.urlencode(text).encode("ascii"), "application/x-www-form-urlencoded"

    def _pushing(self) -> bool:
        return self.state.webhook_url(PROVIDER, "report") is not None

    def _push_reports(self, appid: str, reports: list[DeliveryReport]) -> None:
        """A ``request`` event for each processed message, then its delivery report.

        Request events go out at once; reports after the sandbox's ``webhook_delay``.
        """
        if not self._pushing():
            return
        for report in reports:
            fields: dict[str, Any] = {
                "events": "request",
                "address": report.entry.phone,
                "app": appid,
                "send_id": report.entry.message_id,
                "content": report.entry.content,
            }
            self._push_event(fields, report.tag, delayed=False)
        for report in reports:
            fields = {
                "events": "delivered" if report.delivered else "dropped",
                "address": report.entry.phone,
                "app": appid,
                "send_id": report.entry.message_id,
            }
            if report.delivered:
                fields.update(operator="中国移动", location="上海 上海")
            else:
                fields["report"] = "BLACK" if report.blocked else "UNDELIV"
            self._push_event(fields, report.tag, delayed=True)

    def _push_event(self, fields: dict[str, Any], tag: str | None, *, delayed: bool) -> None:
        if tag is not None:
            fields["tag"] = tag
        body, content_type = self._signed_event(fields)
        self.state.push(
            provider=PROVIDER,
            kind="report",
            body=body,
            content_type=content_type,
            delayed=delayed,
        )

    def push_reply(self, reply: Reply) -> None:
        """Push an ``mo`` event for ``reply``, if a webhook is set."""
        fields: dict[str, Any] = {
            "events": "mo",
            "address": reply.phone,
            "app": reply.account,
            "content": reply.content,
        }
        body, content_type = self._signed_event(fields)
        self.state.push(provider=PROVIDER, kind="reply", body=body, content_type=content_type)

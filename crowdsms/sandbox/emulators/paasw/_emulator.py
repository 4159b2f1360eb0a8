"""paasw: tokens, ``sms/send``, ``sms/sendTemplate``, report and reply queues, balance.

Served under ``/paasw``. Success is ``{"code": "10000", ...}``; the gateway publishes no
other code, so the sandbox uses WeChat-style codes (the API this gateway imitates), each
with a message that names what is wrong (a refused token's message always says ``token``):

- ``40001`` token invalid (unknown, or killed by a secret reset), ``42001`` token expired;
- ``40013`` unknown appId, ``40125`` wrong secret;
- ``40035`` a missing or invalid parameter, ``40036`` no valid number,
  ``40037`` too many numbers (1000) or a ``phoneNumbers`` field too long (1500 characters),
  ``40040`` balance too low.

A token lives ``token_ttl`` seconds; fetching again while it lives returns the same token
with the same ``expires_in``. Tokens contain ``+``, ``/`` and ``=``. Invalid numbers in a
send do not fail it: they get a delivery report with code ``1`` (submit failed). Pulls
(``/sms/deliver``, ``/sms/smsUp``) answer a bare JSON array and remove what they return.
"""

from __future__ import annotations

import base64
import collections
import json
from collections.abc import Callable
from typing import Any, ClassVar, Final

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crowdsms._secret import Secret
from crowdsms.sandbox._clock import china_time_text
from crowdsms.sandbox._http import MalformedBody, Params, json_bytes, json_response, read_params
from crowdsms.sandbox._ledger import LedgerEntry
from crowdsms.sandbox._state import DeliveryReport, Reply, SandboxState
from crowdsms.sandbox._text import segments, valid_number
from crowdsms.sandbox.emulators.paasw._settings import PaaswSettings

__all__ = ["CODES", "PaaswEmulator"]

PROVIDER: Final = "paasw"
SUCCESS: Final = "10000"

CODES: Final = {
    "token_invalid": "40001",
    "token_expired": "42001",
    "bad_app_id": "40013",
    "bad_secret": "40125",
    "bad_parameter": "40035",
    "no_valid_number": "40036",
    "too_many_numbers": "40037",
    "balance": "40040",
}
"""The sandbox's error codes by meaning (the gateway publishes none but ``10000``)."""

_QUEUE_LIMIT = 100_000
_MAX_SIGN = 20
_MAX_CONTENT = 1000
_MAX_PARAM_JSON = 100
_MAX_TEMPLATE_ID = 20


class _Rejected(Exception):
    def __init__(self, meaning: str, message: str) -> None:
        super().__init__(message)
        self.code = CODES[meaning]
        self.message = message


@attrs.define
class _Token:
    app_id: str
    expires_at: float
    generation: int


class PaaswEmulator:
    """The paasw endpoints of one sandbox."""

    provider: ClassVar[str] = PROVIDER
    settings_class: ClassVar[type[PaaswSettings]] = PaaswSettings

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.secrets: dict[str, Secret] = dict(state.settings.provider(PROVIDER).apps)
        self._generations: dict[str, int] = collections.defaultdict(int)
        self._tokens: dict[str, _Token] = {}
        self._current: dict[str, str] = {}
        self._reports: dict[str, collections.deque[tuple[str, dict[str, Any]]]] = (
            collections.defaultdict(lambda: collections.deque(maxlen=_QUEUE_LIMIT))
        )
        self._replies: dict[str, collections.deque[Reply]] = collections.defaultdict(
            lambda: collections.deque(maxlen=_QUEUE_LIMIT)
        )

    @property
    def settings(self) -> PaaswSettings:
        """This emulator's current settings."""
        settings: PaaswSettings = self.state.settings.provider(PROVIDER)
        return settings

    def accounts(self) -> list[str]:
        """The configured accounts, the default first."""
        return list(self.settings.apps)

    def client_credentials(self, account: str) -> dict[str, str]:
        """The SDK client's credential keywords for ``account``."""
        return {"app_id": account, "secret": self.settings.apps[account].reveal()}

    def webhook_options(self) -> dict[str, str]:
        """The keywords of the SDK's webhook receiver that verifies this emulator's pushes."""
        return {}

    def routes(self) -> list[BaseRoute]:
        """The routes, relative to ``/paasw``."""
        return [
            Route("/api/token", self.token, methods=["GET"]),
            Route("/sms/send", self.send, methods=["POST"]),
            Route("/sms/sendTemplate", self.send_template, methods=["POST"]),
            Route("/sms/deliver", self.deliver, methods=["GET"]),
            Route("/sms/smsUp", self.sms_up, methods=["GET"]),
            Route("/sms/balance", self.balance, methods=["GET"]),
        ]

    # -- admin --------------------------------------------------------------------------

    def reset_secret(self, app_id: str, secret: str | None = None) -> str:
        """Give ``app_id`` a new secret (the next one in sequence by default); kill its tokens."""
        if app_id not in self.secrets:
            raise KeyError(f"unknown paasw appId {app_id!r}")
        self._generations[app_id] += 1
        if secret is None:
            secret = f"sandbox-paasw-secret-{self._generations[app_id] + 1:08d}"
        self.secrets[app_id] = Secret(secret)
        self._current.pop(app_id, None)
        return secret

    # -- endpoints ----------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """``api/token``: the app's token, the same one while it lives."""
        return await self._handle(request, self._token, authenticate=False)

    async def send(self, request: Request) -> Response:
        """``sms/send``: one content to up to 1000 numbers."""
        return await self._handle(request, lambda app, params: self._send(app, params, False))

    async def send_template(self, request: Request) -> Response:
        """``sms/sendTemplate``: a template with ``paramJson`` to up to 1000 numbers."""
        return await self._handle(request, lambda app, params: self._send(app, params, True))

    async def deliver(self, request: Request) -> Response:
        """``sms/deliver``: pull queued delivery reports (optionally of one ``sign``)."""
        return await self._handle(request, self._pull_reports)

    async def sms_up(self, request: Request) -> Response:
        """``sms/smsUp``: pull queued replies of one ``sign``."""
        return await self._handle(request, self._pull_replies)

    async def balance(self, request: Request) -> Response:
        """``sms/balance``: the app's balance."""

        def answer(app_id: str, params: Params) -> Any:
            balance = float(self.state.balance(PROVIDER, app_id))
            return {"code": SUCCESS, "message": "请求成功", "balance": balance}

        return await self._handle(request, answer)

    async def _handle(
        self,
        request: Request,
        action: Callable[[str, Params], Any],
        *,
        authenticate: bool = True,
    ) -> Response:
        try:
            try:
                params = await read_params(request)
            except MalformedBody as exc:
                raise _Rejected("bad_parameter", f"请求参数无法解析: {exc}") from None
            app_id = self._authenticate(params) if authenticate else ""
            answer = action(app_id, params)
        except _Rejected as rejected:
            answer = {"code": rejected.code, "message": rejected.message}
        return json_response(answer)

    def _token(self, _: str, params: Params) -> dict[str, Any]:
        app_id = params.get("appId")
        if app_id not in self.secrets:
            raise _Rejected("bad_app_id", "appId无效")
        if params.get("secret") != self.secrets[app_id].reveal():
            raise _Rejected("bad_secret", "secret错误")
        now = self.state.clock.now()
        ttl = self.settings.token_ttl
        current = self._current.get(app_id)
        if current is None or self._tokens[current].expires_at <= now:
            current = self._new_token()
            self._tokens[current] = _Token(app_id, now + ttl, self._generations[app_id])
            self._current[app_id] = current
        return {"code": SUCCESS, "message": "操作成功", "token": current, "expires_in": ttl}

    def _new_token(self) -> str:
        chars = list(base64.b64encode(self.state.rng.randbytes(46)).decode("ascii"))
        chars[3], chars[7] = "+", "/"  # always exercise URL-encoding; b64 of 46 bytes ends "=="
        return "".join(chars)

    def _authenticate(self, params: Params) -> str:
        token = params.get("token")
        record = self._tokens.get(token) if token else None
        if record is None:
            raise _Rejected("token_invalid", "token无效")
        if record.generation != self._generations[record.app_id]:
            raise _Rejected("token_invalid", "token已失效, secret已重置, 请重新获取token")
        if record.expires_at <= self.state.clock.now():
            raise _Rejected("token_expired", "token已过期, 请重新获取token")
        return record.app_id

    # -- sends --------------------------------------------------------------------------

    def _numbers(self, params: Params) -> list[str]:
        text = params.get("phoneNumbers")
        if not text:
            raise _Rejected("bad_parameter", "phoneNumbers不能为空")
        settings = self.settings
        if len(text) > settings.max_phone_chars:
            raise _Rejected(
                "too_many_numbers", f"phoneNumbers不能超过{settings.max_phone_chars}个字符"
            )
        numbers = text.split(",")
        if len(numbers) > settings.max_numbers:
            raise _Rejected("too_many_numbers", f"手机号码最多{settings.max_numbers}个")
        return numbers

    def _checked_text(self, params: Params, *, template: bool) -> tuple[str, str]:
        sign = params.get("sign")
        if not sign or len(sign) > _MAX_SIGN or "【" in sign or "】" in sign:
            raise _Rejected("bad_parameter", "sign不能为空, 不含【】, 最多20个字符")
        content = params.get("content")
        if not content or len(content) > _MAX_CONTENT:
            raise _Rejected("bad_parameter", "content不能为空, 最多1000个字符")
        if not template and f"【{sign}】" not in content:
            raise _Rejected("bad_parameter", "content必须包含【签名】")
        kind = params.fields.get("kind")
        if kind is None and self.settings.kind_required:
            raise _Rejected("bad_parameter", "kind不能为空(1验证码, 2普通短信, 3营销短信)")
        if kind is not None and kind not in ("1", "2", "3"):
            raise _Rejected("bad_parameter", "kind必须是1, 2或3")
        return sign, content

    def _template_vars(self, params: Params) -> tuple[str, dict[str, str]]:
        template_id = params.get("templateId")
        if not template_id.isdigit() or len(template_id) > _MAX_TEMPLATE_ID:
            raise _Rejected("bad_parameter", "templateId无效")
        text = params.get("paramJson")
        if len(text) > _MAX_PARAM_JSON:
            raise _Rejected("bad_parameter", "paramJson最多100个字符")
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            raise _Rejected("bad_parameter", "paramJson不是有效的JSON") from None
        items = value if isinstance(value, list) else [value]
        variables: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict):
                raise _Rejected("bad_parameter", "paramJson必须是JSON对象或对象数组")
            variables.update({str(key): str(item_value) for key, item_value in item.items()})
        return template_id, variables

    def _send(self, app_id: str, params: Params, template: bool) -> dict[str, Any]:
        numbers = self._numbers(params)
        sign, content = self._checked_text(params, template=template)
        template_id, variables = self._template_vars(params) if template else (None, {})
        for name, value in variables.items():
            content = content.replace("${" + name + "}", value)
        settings = self.state.settings
        checked = [(raw, valid_number(raw, strict=settings.strict_phone_format)) for raw in numbers]
        valid = [number for _, number in checked if number is not None]
        invalid = [raw for raw, number in checked if number is None]
        if not valid:
            raise _Rejected("no_valid_number", "手机号码格式错误")
        fee = segments(content, settings.segment_length, settings.long_segment_length)
        if not self.state.charge(PROVIDER, app_id, fee * len(valid)):
            raise _Rejected("balance", "余额不足")
        biz_id = f"{self.state.clock.now_ms():013d}{self.state.next_number() % 10**7:07d}"
        now = self.state.clock.now()
        entries = [
            LedgerEntry(
                provider=PROVIDER,
                endpoint="sms/sendTemplate" if template else "sms/send",
                account=app_id,
                phone=number,
                content=content,
                template=template_id,
                vars=variables,
                message_id=biz_id,
                fee=fee,
                time=now,
            )
            for number in valid
        ]
        reports = [self._report(report) for report in self.state.record(entries, tag=sign)]
        reports.extend(self._submit_failure(raw, biz_id, fee, now) for raw in invalid)
        self._queue_reports(app_id, sign, reports)
        return {"code": SUCCESS, "message": "操作成功", "bizId": biz_id}

    def _report(self, report: DeliveryReport) -> dict[str, Any]:
        if report.delivered:
            code, message = SUCCESS, "用户接收成功"
        elif report.blocked:
            code, message = "7", "黑/白名单"
        else:
            code, message = "4", "失败"
        return {
            "phoneNumber": report.entry.phone,
            "sendTime": china_time_text(report.entry.time),
            "reportTime": china_time_text(report.reported_at),
            "success": report.delivered,
            "code": code,
            "message": message,
            "smsSize": str(report.segments),
            "bizId": report.entry.message_id,
        }

    def _submit_failure(self, raw: str, biz_id: str, fee: int, now: float) -> dict[str, Any]:
        return {
            "phoneNumber": raw,
            "sendTime": china_time_text(now),
            "reportTime": china_time_text(now),
            "success": False,
            "code": "1",
            "message": "提交失败",
            "smsSize": str(fee),
            "bizId": biz_id,
        }

    def _queue_reports(self, app_id: str, sign: str, reports: list[dict[str, Any]]) -> None:
        queue = self._reports[app_id]
        queue.extend((sign, report) for report in reports)
        if reports:
            body = json_bytes(reports)
            self.state.push(
                provider=PROVIDER, kind="report", body=body, content_type="application/json"
            )

    # -- pulls --------------------------------------------------------------------------

    def _pull_reports(self, app_id: str, params: Params) -> list[dict[str, Any]]:
        sign = params.fields.get("sign") or None
        queue = self._reports[app_id]
        taken: list[dict[str, Any]] = []
        kept: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        limit = self.settings.pull_batch
        while queue:
            item = queue.popleft()
            if len(taken) < limit and (sign is None or item[0] == sign):
                taken.append(item[1])
            else:
                kept.append(item)
        queue.extend(kept)
        return taken

    def _pull_replies(self, app_id: str, params: Params) -> list[dict[str, Any]]:
        sign = params.get("sign")
        if not sign:
            raise _Rejected("bad_parameter", "sign不能为空")
        queue = self._replies[app_id]
        limit = self.settings.pull_batch
        taken = [reply for reply in queue if reply.sign in (sign, None)][:limit]
        for reply in taken:
            queue.remove(reply)
        return [
            {
                "phoneNumber": reply.phone,
                "sendTime": china_time_text(reply.received_at),
                "content": reply.content,
                "sequenceId": reply.sequence_id,
            }
            for reply in taken
        ]

    def push_reply(self, reply: Reply) -> None:
        """Queue ``reply`` for ``/sms/smsUp`` and push it, if a webhook is set."""
        self._replies[reply.account].append(reply)
        item = {
            "phoneNumber": reply.phone,
            "sendTime": china_time_text(reply.received_at),
            "content": reply.content,
            "sign": reply.sign or "",
            "sequenceId": reply.sequence_id,
        }
        self.state.push(
            provider=PROVIDER,
            kind="reply",
            body=json_bytes([item]),
            content_type="application/json",
        )

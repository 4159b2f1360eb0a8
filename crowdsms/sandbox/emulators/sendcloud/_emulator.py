"""SendCloud SMS: ``send``, ``sendn``/``sendx``, ``timestamp/get``, contact-list tasks, SMSHook.

Served under ``/sendcloud/smsapi``. Every answer is SendCloud's envelope
``{"result", "statusCode", "message", "info"}`` with HTTP 200. Partial success is 311 with
``info.items`` listing the failures (``{phone, vars, message}``) and ``info.smsIds`` the
successes, each id ``messageId + index + "$" + phone`` (the index is the recipient's
position in the request); 312 when every recipient failed.

Signatures are checked by this module's own implementation of SendCloud's signing rule,
written apart from the client's: every parameter but ``signature``, sorted, joined
``k=v&k=v`` with raw values, hashed as ``smsKey + "&" + S + "&" + smsKey`` with md5 (32 hex
digits) or sha256 (64). ``timestamp`` (milliseconds) is optional, as in the seed; when
present it must be within the window. A repeated ``sendRequestId`` of the same smsUser gets
the first answer again and sends nothing.

SMSHook pushes follow the domestic document: each event is named in ``event`` and numbered
in ``eventType``. A processed message gets ``request`` (1), then ``deliver`` (2), or
``delivererror`` (5) when the carrier could not deliver it, or ``workererror`` (4) for a
number on the block list (a contact-list task's member; a send refuses such a number at
once); a reply added to the sandbox is pushed as ``reply`` (6).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import string
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crowdsms.sandbox._clock import china_time_text
from crowdsms.sandbox._http import MalformedBody, Params, json_bytes, read_params
from crowdsms.sandbox._ledger import LedgerEntry
from crowdsms.sandbox._state import DeliveryReport, Reply, SandboxState
from crowdsms.sandbox._text import segments, valid_number
from crowdsms.sandbox.emulators.sendcloud._settings import SendCloudSettings
from crowdsms.sandbox.emulators.sendcloud._tasks import BadExecuteTime, ContactTask, ContactTaskBook

__all__ = ["MESSAGES", "SendCloudEmulator", "sendcloud_signature"]

PROVIDER: Final = "sendcloud"

MESSAGES: Final[Mapping[int, str]] = {
    200: "请求成功",
    311: "部分成功",
    312: "全部请求失败",
    400: "参数错误",
    411: "手机号不能为空",
    412: "手机号格式错误",
    413: "有重复的手机号",
    421: "签名参数错误",
    422: "签名错误",
    431: "模板不存在",
    433: "模板ID不能为空",
    441: "替换变量格式错误",
    451: "定时发送时间的格式错误",
    452: "定时发送时间早于服务器时间, 时间已过去",
    461: "时间戳无效, 时间戳与服务器时间间隔过大",
    471: "smsUser不存在",
    472: "smsUser不能为空",
    481: "手机号和替换变量不能为空",
    482: "手机号和替换变量格式错误",
    483: "替换变量长度超过限制",
    499: "账户额度不够",
}
"""statusCode -> message, as the sandbox answers them."""

_DELIVERED: Final = "deliver"
_WORKER_ERROR: Final = "workererror"
_DELIVER_ERROR: Final = "delivererror"
_EVENT_TYPES: Final[Mapping[str, str]] = {
    "request": "1",
    _DELIVERED: "2",
    _WORKER_ERROR: "4",
    _DELIVER_ERROR: "5",
    "reply": "6",
}
"""SMSHook event name -> ``eventType``, as the domestic document numbers them."""

_HASHES: Final = {32: hashlib.md5, 64: hashlib.sha256}
_IDEMPOTENCY_KEPT = 100_000
_TOKEN_ALPHABET = string.ascii_letters + string.digits


def sendcloud_signature(params: Mapping[str, str], key: str, algorithm: str = "md5") -> str:
    """SendCloud's signature of ``params`` (``signature`` itself left out)."""
    signed = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "signature")
    text = f"{key}&{signed}&{key}".encode()
    return hashlib.new(algorithm, text, usedforsecurity=False).hexdigest()


def _envelope(
    status_code: int, info: dict[str, Any] | None = None, message: str | None = None
) -> Response:
    body = {
        "result": status_code in (200, 311),
        "statusCode": status_code,
        "message": message or MESSAGES[status_code],
        "info": info or {},
    }
    return Response(json_bytes(body), media_type="application/json;charset=UTF-8")


class _Rejected(Exception):
    def __init__(self, status_code: int, message: str | None = None) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.message = message


@attrs.frozen
class _Recipient:
    phone: str
    variables: dict[str, str]


class SendCloudEmulator:
    """The SendCloud SMS endpoints of one sandbox."""

    provider: ClassVar[str] = PROVIDER
    settings_class: ClassVar[type[SendCloudSettings]] = SendCloudSettings

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.tasks = ContactTaskBook(state, self._run_task)
        self._replays: collections.OrderedDict[tuple[str, str], bytes] = collections.OrderedDict()

    @property
    def settings(self) -> SendCloudSettings:
        """This emulator's current settings."""
        settings: SendCloudSettings = self.state.settings.provider(PROVIDER)
        return settings

    def accounts(self) -> list[str]:
        """The configured accounts, the default first."""
        return list(self.settings.users)

    def client_credentials(self, account: str) -> dict[str, str]:
        """The SDK client's credential keywords for ``account``."""
        return {"sms_user": account, "sms_key": self.settings.users[account].reveal()}

    def webhook_options(self) -> dict[str, str]:
        """The keywords of the SDK's webhook receiver that verifies this emulator's pushes."""
        return {"key": self.settings.webhook_key.reveal()}

    def routes(self) -> list[BaseRoute]:
        """The routes, relative to ``/sendcloud/smsapi``."""
        methods = ["GET", "POST"]
        return [
            Route("/timestamp/get", self.timestamp, methods=methods),
            Route("/send", self.send, methods=methods),
            Route("/sendn", self.sendx, methods=methods),
            Route("/sendx", self.sendx, methods=methods),
            Route("/sendContactListTask", self.send_contact_list_task, methods=methods),
            Route("/queryContactListTask", self.query_contact_list_task, methods=methods),
        ]

    # -- endpoints ----------------------------------------------------------------------

    async def timestamp(self, request: Request) -> Response:
        """``timestamp/get``: the server's time in milliseconds, unsigned."""
        return _envelope(200, {"timestamp": self.state.clock.now_ms()})

    async def send(self, request: Request) -> Response:
        """``send``: one template to a comma-separated list of numbers."""
        return await self._handle(request, self._send)

    async def sendx(self, request: Request) -> Response:
        """``sendn`` / ``sendx``: one template, per-recipient variables in ``tos``."""
        return await self._handle(request, self._sendx)

    async def send_contact_list_task(self, request: Request) -> Response:
        """``sendContactListTask``: send a template to stored contact lists, later."""
        return await self._handle(request, self._create_task)

    async def query_contact_list_task(self, request: Request) -> Response:
        """``queryContactListTask``: a task's current state."""
        return await self._handle(request, self._query_task)

    async def _handle(
        self, request: Request, action: Callable[[str, Params], Response]
    ) -> Response:
        try:
            try:
                params = await read_params(request)
            except MalformedBody as exc:
                raise _Rejected(400, f"参数错误: {exc}") from None
            user = self._authenticate(params)
            response = action(user, params)
        except _Rejected as rejected:
            return _envelope(rejected.status_code, message=rejected.message)
        return response

    def _authenticate(self, params: Params) -> str:
        user = params.get("smsUser")
        if not user:
            raise _Rejected(472)
        users = self.settings.users
        if user not in users:
            raise _Rejected(471)
        signature = params.get("signature")
        if len(signature) not in _HASHES:
            raise _Rejected(421)
        timestamp = params.fields.get("timestamp")
        if timestamp is not None:
            if not timestamp.isdigit():
                raise _Rejected(461)
            window = self.settings.timestamp_window * 1000
            if abs(self.state.clock.now_ms() - int(timestamp)) > window:
                raise _Rejected(461)
        algorithm = "md5" if len(signature) == 32 else "sha256"
        expected = sendcloud_signature(params.fields, users[user].reveal(), algorithm)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise _Rejected(422)
        return user

    def _template(self, params: Params) -> tuple[int, str]:
        raw = params.get("templateId")
        if not raw:
            raise _Rejected(433)
        templates = self.settings.templates
        if not raw.isdigit() or int(raw) not in templates:
            raise _Rejected(431)
        return int(raw), templates[int(raw)]

    # -- sends --------------------------------------------------------------------------

    def _send(self, user: str, params: Params) -> Response:
        template_id, template = self._template(params)
        phone = params.get("phone")
        if not phone.strip():
            raise _Rejected(411)
        numbers = [number.strip() for number in phone.split(",")]
        limit = self.settings.send_limit
        if len(numbers) > limit:
            raise _Rejected(412, f"手机号数量不能超过{limit}个")
        if len(set(numbers)) != len(numbers):
            raise _Rejected(413)
        variables = self._variables(params.get("vars") or "{}")
        too_long = self._too_long(variables)
        if too_long is not None:
            raise _Rejected(483, too_long)
        strict = self.state.settings.strict_phone_format
        if len(numbers) == 1 and valid_number(numbers[0], strict=strict) is None:
            raise _Rejected(412)
        recipients = [_Recipient(number, variables) for number in numbers]
        return self._deliver(user, params, "send", template_id, template, recipients)

    def _sendx(self, user: str, params: Params) -> Response:
        template_id, template = self._template(params)
        tos = params.raw.get("tos")
        if not isinstance(tos, list):
            text = params.get("tos")
            if not text.strip():
                raise _Rejected(481)
            try:
                tos = json.loads(text)
            except ValueError:
                raise _Rejected(482) from None
        if not isinstance(tos, list) or not tos:
            raise _Rejected(482 if tos else 481)
        limit = self.settings.sendx_limit
        if len(tos) > limit:
            raise _Rejected(482, f"tos最多{limit}个")
        recipients = []
        for item in tos:
            if not (
                isinstance(item, dict)
                and isinstance(item.get("phone"), str)
                and isinstance(item.get("vars"), dict)
            ):
                raise _Rejected(482)
            variables = {str(key): str(value) for key, value in item["vars"].items()}
            recipients.append(_Recipient(item["phone"].strip(), variables))
        if len({recipient.phone for recipient in recipients}) != len(recipients):
            raise _Rejected(413)
        return self._deliver(user, params, "sendx", template_id, template, recipients)

    def _variables(self, text: str) -> dict[str, str]:
        try:
            value = json.loads(text)
        except ValueError:
            raise _Rejected(441) from None
        if not isinstance(value, dict):
            raise _Rejected(441)
        return {str(key): str(item) for key, item in value.items()}

    def _too_long(self, variables: Mapping[str, str]) -> str | None:
        limit = self.settings.var_max_length
        if any(len(value) > limit for value in variables.values()):
            return f"替换变量长度不能超过{limit}个字符"
        return None

    def _deliver(
        self,
        user: str,
        params: Params,
        endpoint: str,
        template_id: int,
        template: str,
        recipients: list[_Recipient],
    ) -> Response:
        request_id = params.fields.get("sendRequestId")
        if request_id is not None:
            if len(request_id) > 128:
                raise _Rejected(400, "sendRequestId长度不能超过128")
            replay = self._replays.get((user, request_id))
            if replay is not None:
                return Response(replay, media_type="application/json;charset=UTF-8")
        settings = self.state.settings
        accepted: list[tuple[int, str, _Recipient, str, int]] = []
        failures: list[dict[str, Any]] = []
        for index, recipient in enumerate(recipients):
            number = valid_number(recipient.phone, strict=settings.strict_phone_format)
            if number is None:
                problem: str | None = MESSAGES[412]
            elif self.state.blocked(number):
                problem = "手机号在黑名单中"
            else:
                problem = self._too_long(recipient.variables)
            if number is None or problem is not None:
                failures.append(
                    {"phone": recipient.phone, "vars": recipient.variables, "message": problem}
                )
                continue
            text = _substitute(template, recipient.variables)
            fee = segments(text, settings.segment_length, settings.long_segment_length)
            accepted.append((index, number, recipient, text, fee))
        if accepted and not self.state.charge(PROVIDER, user, sum(fee for *_, fee in accepted)):
            raise _Rejected(499)
        message_id = self._message_id()
        now = self.state.clock.now()
        entries = [
            LedgerEntry(
                provider=PROVIDER,
                endpoint=endpoint,
                account=user,
                phone=number,
                content=text,
                template=str(template_id),
                vars=recipient.variables,
                message_id=f"{message_id}{index}${number}",
                fee=fee,
                time=now,
                request_id=request_id,
            )
            for index, number, recipient, text, fee in accepted
        ]
        self._push_reports(user, template_id, self.state.record(entries, reports=self._pushing()))
        info: dict[str, Any] = {
            "successCount": len(entries),
            "smsIds": [entry.message_id for entry in entries],
        }
        if failures:
            info["failedCount"] = len(failures)
            info["items"] = failures
        status = 200 if not failures else (311 if entries else 312)
        response = _envelope(status, info)
        if request_id is not None:
            self._remember(user, request_id, bytes(response.body))
        return response

    def _message_id(self) -> str:
        number = self.state.next_number()
        return (
            f"{self.state.clock.now_ms()}_{number}_{self.state.settings.seed}.sc-sandbox-outbound"
        )

    def _remember(self, user: str, request_id: str, body: bytes) -> None:
        self._replays[(user, request_id)] = body
        while len(self._replays) > _IDEMPOTENCY_KEPT:
            self._replays.popitem(last=False)

    # -- contact-list tasks -------------------------------------------------------------

    def _create_task(self, user: str, params: Params) -> Response:
        template_id, _ = self._template(params)
        names = [name for name in params.get("contactListName").split(";") if name]
        task_name = params.get("taskName")
        if not names or not task_name:
            raise _Rejected(400, "参数错误: contactListName和taskName不能为空")
        lists = self.settings.contact_lists
        unknown = [name for name in names if name not in lists]
        if unknown:
            raise _Rejected(400, f"联系人列表不存在: {';'.join(unknown)}")
        try:
            task = self.tasks.create(
                user=user,
                names=names,
                members=tuple(dict.fromkeys(number for name in names for number in lists[name])),
                task_name=task_name,
                label_id=params.fields.get("labelId"),
                sender_name=params.get("senderName"),
                template_id=template_id,
                execute_time=params.get("executeTime"),
            )
        except BadExecuteTime as exc:
            raise _Rejected(exc.status_code) from None
        return _envelope(200, {"smsTask": task.info(with_label=False)}, "联系人列表任务保存成功")

    def _query_task(self, user: str, params: Params) -> Response:
        task = self.tasks.find(user, params.get("taskId"))
        if task is None:
            raise _Rejected(400, "任务不存在")
        return _envelope(200, {"smsTask": task.info(with_label=True)}, "查询成功")

    def _run_task(self, task: ContactTask) -> bool:
        settings = self.state.settings
        template = self.settings.templates.get(task.template_id, "")
        fee = segments(template, settings.segment_length, settings.long_segment_length)
        if not self.state.charge(PROVIDER, task.user, fee * len(task.members)):
            return False
        message_id = self._message_id()
        entries = [
            LedgerEntry(
                provider=PROVIDER,
                endpoint="sendContactListTask",
                account=task.user,
                phone=number,
                content=template,
                template=str(task.template_id),
                vars={},
                message_id=f"{message_id}{index}${number}",
                fee=fee,
                time=task.ends_at,
                request_id=f"task-{task.task_id}",
            )
            for index, number in enumerate(task.members)
        ]
        reports = self.state.record(entries, reports=self._pushing())
        self._push_reports(task.user, task.template_id, reports)
        return True

    # -- SMSHook ------------------------------------------------------------------------

    def _pushing(self) -> bool:
        return self.state.webhook_url(PROVIDER, "report") is not None

    def _push_reports(self, user: str, template_id: int, reports: list[DeliveryReport]) -> None:
        """A ``request`` event for each processed message, then its delivery report.

        Request events go out at once; reports after the sandbox's ``webhook_delay``.
        """
        if not self._pushing():
            return
        for report in reports:
            fields = {"event": "request", "eventType": "1", **_about(user, template_id, report)}
            self._push_event(fields, kind="report", delayed=False)
        for report in reports:
            if report.delivered:
                event, message = _DELIVERED, "送达"
            elif report.blocked:
                event, message = _WORKER_ERROR, "黑名单"
            else:
                event, message = _DELIVER_ERROR, "UNDELIV"
            fields = {
                "event": event,
                "eventType": _EVENT_TYPES[event],
                **_about(user, template_id, report),
                "message": message,
            }
            self._push_event(fields, kind="report", delayed=True)

    def push_reply(self, reply: Reply) -> None:
        """Push a ``reply`` event (``eventType`` 6) for ``reply``, if a webhook is set."""
        fields = {
            "event": "reply",
            "eventType": _EVENT_TYPES["reply"],
            "phone": reply.phone,
            "smsUser": reply.account,
            "replyContent": reply.content,
            "replyTime": china_time_text(reply.received_at),
        }
        self._push_event(fields, kind="reply", delayed=False)

    def _push_event(self, fields: dict[str, str], *, kind: str, delayed: bool) -> None:
        settings = self.settings
        key = settings.webhook_key.reveal().encode()
        timestamp = str(self.state.clock.now_ms())
        token = "".join(self.state.rng.choice(_TOKEN_ALPHABET) for _ in range(50))
        signature = hmac.new(key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
        fields = {**fields, "timestamp": timestamp, "token": token, "signature": signature}
        if settings.webhook_format == "json":
            body, content_type = json_bytes(fields), "application/json"
        else:
            body = urllib.parse.urlencode(fields).encode("ascii")
            content_type = "application/x-www-form-urlencoded"
        self.state.push(
            provider=PROVIDER, kind=kind, body=body, content_type=content_type, delayed=delayed
        )


def _about(user: str, template_id: int, report: DeliveryReport) -> dict[str, str]:
    """The fields every SMSHook event about one message carries."""
    return {
        "smsId": report.entry.message_id,
        "phone": report.entry.phone or "",
        "smsUser": user,
        "templateId": str(template_id),
    }


def _substitute(template: str, variables: Mapping[str, str]) -> str:
    for key, value in variables.items():
        name = key if key.startswith("%") and key.endswith("%") and len(key) > 1 else f"%{key}%"
        template = template.replace(name, value)
    return template

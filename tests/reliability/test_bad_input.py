"""Issue 10: bad input is refused before any request, by an error that names the field.

One table across the four providers: invalid and foreign numbers, variables too long
(SendCloud), content too long, content without its 【signature】, values the CrowdTask CVS
format cannot carry, missing or malformed credentials, and a plain-HTTP base URL to a
remote host. Arguments of a call raise :class:`InvalidInputError` with ``field`` (and
``position`` for an item of a list); settings of a client raise
:class:`ConfigurationError` naming the setting. The transport under the clients records
every request: none may be made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import httpx
import pytest

from crowdsms.errors import ConfigurationError, CrowdSMSError, InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.providers.crowdtask import AsyncCrowdTask
from crowdsms.providers.paasw import AsyncPaasw, SmsKind
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox.emulators.crowdtask import CROWDTASK_ACCESS_ID, CROWDTASK_SECRET
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

from ._support import phone

BASE = "https://provider.example"


def submail(transport: httpx.AsyncBaseTransport, **settings: object) -> AsyncSubmail:
    options: dict[str, Any] = {
        "app_id": SUBMAIL_APPID,
        "app_key": SUBMAIL_APPKEY,
        "base_url": BASE,
        **settings,
    }
    return AsyncSubmail(transport=transport, **options)


def sendcloud(transport: httpx.AsyncBaseTransport, **settings: object) -> AsyncSendCloud:
    options: dict[str, Any] = {
        "sms_user": SENDCLOUD_SMS_USER,
        "sms_key": SENDCLOUD_SMS_KEY,
        "base_url": BASE,
        **settings,
    }
    return AsyncSendCloud(transport=transport, **options)


def crowdtask(transport: httpx.AsyncBaseTransport, **settings: object) -> AsyncCrowdTask:
    options: dict[str, Any] = {
        "access_id": CROWDTASK_ACCESS_ID,
        "access_secret_key": CROWDTASK_SECRET,
        "base_url": BASE,
        **settings,
    }
    return AsyncCrowdTask(transport=transport, **options)


def paasw(transport: httpx.AsyncBaseTransport, **settings: object) -> AsyncPaasw:
    options: dict[str, Any] = {
        "app_id": PAASW_APP_ID,
        "secret": PAASW_SECRET,
        "base_url": BASE,
        **settings,
    }
    return AsyncPaasw(transport=transport, **options)


Action = Callable[[httpx.AsyncBaseTransport], Awaitable[object]]


@attrs.frozen
class Case:
    action: Action
    error: type[CrowdSMSError]
    field: str
    position: int | None = None


def build(make: Callable[..., object], **settings: object) -> Action:
    """An action that only creates a client with ``settings``."""

    async def action(transport: httpx.AsyncBaseTransport) -> object:
        return make(transport, **settings)

    return action


SIGNED = "【测试】@var(name)，您好"


async def submail_multisend(
    transport: httpx.AsyncBaseTransport,
    *,
    content: str = SIGNED,
    recipients: list[Recipient] | None = None,
    tag: str | None = None,
) -> object:
    async with submail(transport) as client:
        return await client.sms.multisend(
            content=content,
            recipients=recipients or [Recipient(phone(1), {"name": "a"})],
            tag=tag,
        )


async def sendcloud_sendn(
    transport: httpx.AsyncBaseTransport, recipients: list[Recipient]
) -> object:
    async with sendcloud(transport) as client:
        return await client.sms.sendn(template_id=1, recipients=recipients)


async def crowdtask_batch(
    transport: httpx.AsyncBaseTransport,
    rows: list[dict[str, str]],
    columns: list[str] | None = None,
) -> object:
    async with crowdtask(transport) as client:
        return await client.tasks.batch(project_id=7, rows=rows, columns=columns)


async def paasw_send(
    transport: httpx.AsyncBaseTransport,
    *,
    phones: list[str] | None = None,
    sign: str = "测试",
    content: str = "【测试】您好",
) -> object:
    async with paasw(transport) as client:
        return await client.sms.send(
            phones=phones or [phone(1)], sign=sign, content=content, kind=SmsKind.NOTICE
        )


CASES: dict[str, Case] = {
    # -- SUBMAIL ----------------------------------------------------------------------------
    "submail-invalid-number": Case(
        lambda t: submail_multisend(
            t, recipients=[Recipient(phone(1), {"name": "a"}), Recipient("12345", {"name": "b"})]
        ),
        InvalidInputError,
        "recipients[1].phone",
        1,
    ),
    "submail-foreign-number": Case(
        lambda t: submail_multisend(t, recipients=[Recipient("+1 415 555 0100", {"name": "a"})]),
        InvalidInputError,
        "recipients[0].phone",
        0,
    ),
    "submail-content-too-long": Case(
        lambda t: submail_multisend(t, content="【测试】" + "长" * 1000),
        InvalidInputError,
        "content",
    ),
    "submail-no-signature": Case(
        lambda t: submail_multisend(t, content="@var(name)，您好，没有签名"),
        InvalidInputError,
        "content",
    ),
    "submail-tag-too-long": Case(
        lambda t: submail_multisend(t, tag="t" * 33), InvalidInputError, "tag"
    ),
    "submail-missing-var": Case(
        lambda t: submail_multisend(t, recipients=[Recipient(phone(1), {"other": "x"})]),
        InvalidInputError,
        "recipients[0].vars",
        0,
    ),
    "submail-missing-app-key": Case(build(submail, app_key=""), ConfigurationError, "app_key"),
    "submail-malformed-app-id": Case(build(submail, app_id="88 000"), ConfigurationError, "app_id"),
    "submail-remote-http": Case(
        build(submail, base_url="http://api-v4.mysubmail.com"), ConfigurationError, "base_url"
    ),
    # -- SendCloud --------------------------------------------------------------------------
    "sendcloud-invalid-number": Case(
        lambda t: sendcloud_sendn(
            t, [Recipient(phone(1), {"code": "1"}), Recipient("1380013800", {"code": "2"})]
        ),
        InvalidInputError,
        "recipients[1].phone",
        1,
    ),
    "sendcloud-var-too-long": Case(
        lambda t: sendcloud_sendn(t, [Recipient(phone(1), {"code": "1" * 17})]),
        InvalidInputError,
        "recipients[0].vars[code]",
        0,
    ),
    "sendcloud-duplicate-number": Case(
        lambda t: sendcloud_sendn(
            t, [Recipient(phone(1), {"code": "1"}), Recipient(phone(1), {"code": "2"})]
        ),
        InvalidInputError,
        "recipients[1].phone",
        1,
    ),
    "sendcloud-missing-key": Case(build(sendcloud, sms_key=""), ConfigurationError, "sms_key"),
    "sendcloud-missing-user": Case(build(sendcloud, sms_user=""), ConfigurationError, "sms_user"),
    "sendcloud-remote-http": Case(
        build(sendcloud, base_url="http://sendcloud.sohu.com/smsapi"),
        ConfigurationError,
        "base_url",
    ),
    # -- CrowdTask --------------------------------------------------------------------------
    "crowdtask-line-break-in-value": Case(
        lambda t: crowdtask_batch(t, [{"img": "a.jpg"}, {"img": "b\nc.jpg"}]),
        InvalidInputError,
        "rows[1]['img']",
        1,
    ),
    "crowdtask-tab-in-value": Case(
        lambda t: crowdtask_batch(t, [{"img": "a\tb.jpg"}]), InvalidInputError, "rows[0]['img']", 0
    ),
    "crowdtask-control-character": Case(
        lambda t: crowdtask_batch(t, [{"img": "a\x00.jpg"}]), InvalidInputError, "rows[0]['img']", 0
    ),
    "crowdtask-column-with-space": Case(
        lambda t: crowdtask_batch(t, [{"my img": "a.jpg"}]), InvalidInputError, "columns[0]", 0
    ),
    "crowdtask-missing-secret": Case(
        build(crowdtask, access_secret_key=""), ConfigurationError, "access_secret_key"
    ),
    "crowdtask-remote-http": Case(
        build(crowdtask, base_url="http://api.crowdtask.cn"), ConfigurationError, "base_url"
    ),
    # -- paasw ------------------------------------------------------------------------------
    "paasw-invalid-number": Case(
        lambda t: paasw_send(t, phones=[phone(1), "1380013800a"]),
        InvalidInputError,
        "phones[1]",
        1,
    ),
    "paasw-too-many-numbers": Case(
        lambda t: paasw_send(t, phones=[phone(i) for i in range(126)]),
        InvalidInputError,
        "phones",
    ),
    "paasw-content-too-long": Case(
        lambda t: paasw_send(t, content="【测试】" + "长" * 1000), InvalidInputError, "content"
    ),
    "paasw-content-without-sign": Case(
        lambda t: paasw_send(t, content="您好，没有签名"), InvalidInputError, "content"
    ),
    "paasw-sign-too-long": Case(
        lambda t: paasw_send(t, sign="签" * 21, content="【" + "签" * 21 + "】您好"),
        InvalidInputError,
        "sign",
    ),
    "paasw-missing-secret": Case(build(paasw, secret=""), ConfigurationError, "secret"),
    "paasw-missing-app-id": Case(build(paasw, app_id=""), ConfigurationError, "app_id"),
    "paasw-remote-http": Case(
        build(paasw, base_url="http://openapi.gateway.paasw.com"),
        ConfigurationError,
        "base_url",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.asyncio
async def test_bad_input_is_refused_before_any_request(name: str) -> None:
    case = CASES[name]
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    with pytest.raises(CrowdSMSError) as caught:
        await case.action(httpx.MockTransport(handler))
    error = caught.value
    assert type(error) is case.error, repr(error)
    message = str(error)
    assert case.field in message
    if isinstance(error, InvalidInputError):
        assert error.field == case.field
        assert error.position == case.position
        assert message.startswith(error.field + ":")
    assert requests == []
    # Every message says what to do, not only what is wrong.
    assert error.action

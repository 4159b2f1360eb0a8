"""Bad arguments are refused before any request, naming the field and the position."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import respx

from crowdsms._secret import Secret
from crowdsms.errors import ConfigurationError, InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.providers.sendcloud import AsyncSendCloud

from .sendcloud_support import SMS_KEY, answer, form


@pytest.fixture
def routes(api: respx.MockRouter) -> Iterator[respx.MockRouter]:
    """Every endpoint answers; tests check that none was called."""
    for path in ("/send", "/sendn", "/sendContactListTask", "/queryContactListTask"):
        api.post(path).mock(return_value=answer())
    yield api
    for route in api.routes:
        assert route.call_count == 0, f"{route} was called"


def numbers(count: int) -> list[str]:
    return [f"138{i:08d}" for i in range(count)]


SEND_CASES = [
    pytest.param(
        {"phones": ["13800138000", "13900139000", "12345"]}, "phones[2]", 2, id="bad-phone"
    ),
    pytest.param(
        {"phones": ["13800138000", "+1 650 253 0000"]}, "phones[1]", 1, id="international"
    ),
    pytest.param({"phones": ["13800138000", 13900139000]}, "phones[1]", 1, id="int-phone"),
    pytest.param({"phones": "13800138000"}, "phones", None, id="one-string"),
    pytest.param({"phones": []}, "phones", None, id="empty"),
    pytest.param({"phones": numbers(2001)}, "phones", None, id="too-many"),
    pytest.param({"template_id": 0}, "template_id", None, id="template-zero"),
    pytest.param({"template_id": -3}, "template_id", None, id="template-negative"),
    pytest.param({"template_id": "12"}, "template_id", None, id="template-str"),
    pytest.param({"template_id": True}, "template_id", None, id="template-bool"),
    pytest.param({"vars": {"code": "x" * 17}}, "vars[code]", None, id="var-too-long"),
    pytest.param({"vars": {"code": 1234}}, "vars[code]", None, id="var-not-str"),
    pytest.param({"vars": {"": "x"}}, "vars[]", None, id="var-empty-name"),
    pytest.param({"vars": ["code"]}, "vars", None, id="vars-not-mapping"),
    pytest.param({"send_request_id": "k" * 129}, "send_request_id", None, id="key-too-long"),
    pytest.param({"send_request_id": ""}, "send_request_id", None, id="key-empty"),
    pytest.param({"msg_type": -1}, "msg_type", None, id="msg-type"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("overrides", "field", "position"), SEND_CASES)
async def test_send_refuses_bad_input(
    client: AsyncSendCloud,
    routes: respx.MockRouter,
    overrides: dict[str, Any],
    field: str,
    position: int | None,
) -> None:
    arguments: dict[str, Any] = {"template_id": 1, "phones": ["13800138000"], **overrides}
    with pytest.raises(InvalidInputError) as caught:
        await client.sms.send(**arguments)
    assert caught.value.field == field
    assert caught.value.position == position
    assert str(caught.value).startswith(field + ":")


@pytest.mark.asyncio
async def test_send_refuses_duplicates_naming_both(
    client: AsyncSendCloud, routes: respx.MockRouter
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await client.sms.send(
            template_id=1, phones=["13800138000", "13900139000", "+86 138-0013-8000"]
        )
    assert caught.value.field == "phones[2]"
    assert caught.value.position == 2
    assert "phones[0]" in str(caught.value)
    assert "413" in str(caught.value)


RECIPIENT_CASES = [
    pytest.param(
        [Recipient("13800138000"), Recipient("not a number")],
        "recipients[1].phone",
        1,
        id="bad-phone",
    ),
    pytest.param(
        [Recipient("13800138000"), Recipient("13900139000"), Recipient("13800138000")],
        "recipients[2].phone",
        2,
        id="duplicate",
    ),
    pytest.param(
        [Recipient("13800138000"), Recipient("13900139000", {"%code%": "1" * 17})],
        "recipients[1].vars[%code%]",
        1,
        id="var-too-long",
    ),
    pytest.param(
        [Recipient("13800138000", {"%e%": "😀" * 9})],
        "recipients[0].vars[%e%]",
        0,
        id="emoji-count-twice",
    ),
    pytest.param([{"phone": "13800138000"}], "recipients[0]", 0, id="not-a-recipient"),
    pytest.param([], "recipients", None, id="empty"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("recipients", "field", "position"), RECIPIENT_CASES)
async def test_sendn_refuses_bad_recipients(
    client: AsyncSendCloud,
    routes: respx.MockRouter,
    recipients: list[Any],
    field: str,
    position: int | None,
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await client.sms.sendn(template_id=1, recipients=recipients)
    assert caught.value.field == field
    assert caught.value.position == position


@pytest.mark.asyncio
async def test_sendn_duplicate_names_the_first(
    client: AsyncSendCloud, routes: respx.MockRouter
) -> None:
    with pytest.raises(InvalidInputError, match=r"recipients\[0\]\.phone"):
        await client.sms.sendn(
            template_id=1, recipients=[Recipient("13800138000"), Recipient("138 0013 8000")]
        )


@pytest.mark.asyncio
async def test_limits_accept_their_boundary(client: AsyncSendCloud, api: respx.MockRouter) -> None:
    send = api.post("/send").mock(return_value=answer())
    sendn = api.post("/sendn").mock(return_value=answer())
    await client.sms.send(
        template_id=1,
        phones=numbers(2000),
        vars={"code": "x" * 16},
        send_request_id="k" * 128,
    )
    assert form(send.calls.last.request)["phone"].count(",") == 1999
    await client.sms.sendn(template_id=1, recipients=[Recipient("13800138000", {"%e%": "😀" * 8})])
    assert sendn.call_count == 1


@pytest.mark.asyncio
async def test_var_length_is_a_setting(
    make_client: Callable[..., AsyncSendCloud], api: respx.MockRouter
) -> None:
    route = api.post("/sendn").mock(return_value=answer())
    unlimited = make_client(max_var_length=None)
    await unlimited.sms.sendn(
        template_id=1, recipients=[Recipient("13800138000", {"%v%": "长" * 100})]
    )
    wider = make_client(max_var_length=20)
    await wider.sms.sendn(template_id=1, recipients=[Recipient("13800138000", {"%v%": "x" * 20})])
    with pytest.raises(InvalidInputError, match="max_var_length"):
        await wider.sms.sendn(
            template_id=1, recipients=[Recipient("13800138000", {"%v%": "x" * 21})]
        )
    assert route.call_count == 2


TASK_CASES = [
    pytest.param({"contact_list_names": ["a", "b;c"]}, "contact_list_names[1]", 1, id="semicolon"),
    pytest.param({"contact_list_names": ["a", " "]}, "contact_list_names[1]", 1, id="blank"),
    pytest.param({"contact_list_names": []}, "contact_list_names", None, id="empty"),
    pytest.param({"contact_list_names": "a"}, "contact_list_names", None, id="one-string"),
    pytest.param({"task_name": ""}, "task_name", None, id="task-name"),
    pytest.param({"template_id": 0}, "template_id", None, id="template"),
    pytest.param({"label_id": 0}, "label_id", None, id="label"),
    pytest.param({"sender_name": ""}, "sender_name", None, id="sender"),
    pytest.param({"execute_time": "2024-01-01 00:00:00"}, "execute_time", None, id="time-str"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("overrides", "field", "position"), TASK_CASES)
async def test_contact_task_refuses_bad_input(
    client: AsyncSendCloud,
    routes: respx.MockRouter,
    overrides: dict[str, Any],
    field: str,
    position: int | None,
) -> None:
    arguments: dict[str, Any] = {
        "contact_list_names": ["list"],
        "task_name": "t",
        "template_id": 1,
        "execute_time": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
        **overrides,
    }
    with pytest.raises(InvalidInputError) as caught:
        await client.contact_tasks.send(**arguments)
    assert caught.value.field == field
    assert caught.value.position == position


@pytest.mark.asyncio
async def test_query_refuses_bad_task_id(client: AsyncSendCloud, routes: respx.MockRouter) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await client.contact_tasks.query(task_id=0)
    assert caught.value.field == "task_id"


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"sign_type": "sha1"}, "sign_type"),
        ({"sendn_endpoint": "sendm"}, "sendn_endpoint"),
        ({"max_sendn_recipients": 0}, "max_sendn_recipients"),
        ({"max_var_length": 0}, "max_var_length"),
        ({"sms_user": ""}, "sms_user"),
        ({"sms_key": ""}, "sms_key"),
        ({"sms_key": Secret("")}, "sms_key"),
        ({"base_url": "ftp://sendcloud.net"}, "base_url"),
        ({"base_url": "http://sendcloud.sohu.com/smsapi"}, "plain http"),
    ],
)
def test_bad_settings(overrides: dict[str, Any], mentions: str) -> None:
    arguments: dict[str, Any] = {"sms_user": "u", "sms_key": SMS_KEY, **overrides}
    with pytest.raises(ConfigurationError) as caught:
        AsyncSendCloud(**arguments)
    assert mentions in str(caught.value)
    assert SMS_KEY not in str(caught.value)


@pytest.mark.asyncio
async def test_old_host_over_http_when_allowed(
    make_client: Callable[..., AsyncSendCloud],
) -> None:
    client = make_client(base_url="http://sendcloud.sohu.com/smsapi", allow_insecure_http=True)
    with respx.mock(base_url="http://sendcloud.sohu.com/smsapi") as router:
        route = router.post("/send").mock(return_value=answer())
        await client.sms.send(template_id=1, phones=["13800138000"])
    assert route.call_count == 1

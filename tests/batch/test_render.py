"""Each chunk sender's ``render`` gives exactly the text the provider (the sandbox) sends."""

from __future__ import annotations

import pytest

from crowdsms.batch import BatchSender
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.sandbox import serve
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_TEMPLATES


@pytest.mark.asyncio
async def test_submail_render_is_the_text_sent() -> None:
    content = "【测试】@var(name)，您的验证码是 @var(code)，@var( name )再见"
    recipients = [
        Recipient("+86 138-0013-8000", {"name": "王小明", "code": "1234"}),
        Recipient("13800138001", {"name": "", "code": "@var(name)"}),
        Recipient("13800138002", {"name": "长" * 90, "code": "9"}),
    ]
    async with serve() as sandbox, sandbox.client("submail") as client:
        chunks = client.sms.multisend_chunks(content=content)
        rendered = [chunks.render(chunks.validate(r, position=i)) for i, r in enumerate(recipients)]
        await BatchSender(chunks).send(recipients)
        sent = [entry.content for entry in sandbox.ledger.entries()]
    assert rendered[0] == "【测试】王小明，您的验证码是 1234，@var( name )再见"
    assert rendered[1] == "【测试】，您的验证码是 @var(name)，@var( name )再见"
    # The sandbox substitutes names exactly as written, so " name " stays (the SDK sends
    # the variables by their stripped names); render agrees with what was sent.
    assert sent == rendered
    assert chunks.segments_note is None
    assert chunks.price_per_segment == 0.05


@pytest.mark.asyncio
async def test_paasw_render_is_the_content() -> None:
    async with serve() as sandbox, sandbox.client("paasw") as client:
        chunks = client.sms.send_chunks(sign="店", content="【店】新品到货", kind=2)
        await BatchSender(chunks).send(["13800138000"])
        [entry] = sandbox.ledger.entries()
    assert chunks.render(Recipient("13800138000")) == entry.content == "【店】新品到货"


@pytest.mark.asyncio
async def test_sendcloud_renders_only_with_the_template_text() -> None:
    async with serve() as sandbox, sandbox.client("sendcloud") as client:
        blind = client.sms.sendn_chunks(template_id=2)
        assert blind.render(Recipient("13800138000", {"name": "王"})) is None
        assert "template_text" in (blind.segments_note or "")
        chunks = client.sms.sendn_chunks(template_id=2, template_text=SENDCLOUD_TEMPLATES[2])
        recipients = [
            Recipient("13800138000", {"%name%": "王", "%order%": "A1"}),
            Recipient("13800138001", {"name": "李", "order": "B2"}),
        ]
        rendered = [chunks.render(r) for r in recipients]
        await BatchSender(chunks).send(recipients)
        sent = [entry.content for entry in sandbox.ledger.entries()]
    assert rendered == sent
    assert sent[0] == "【SANDBOX】王，您好！您的订单A1已发货。"
    assert sent[1] == "【SANDBOX】李，您好！您的订单B2已发货。"
    assert chunks.segments_note is None


@pytest.mark.asyncio
async def test_sendcloud_refuses_an_empty_template_text() -> None:
    async with serve() as sandbox, sandbox.client("sendcloud") as client:
        with pytest.raises(InvalidInputError, match="template_text") as caught:
            client.sms.sendn_chunks(template_id=2, template_text="  ")
    assert "console" in str(caught.value)


@pytest.mark.asyncio
async def test_crowdtask_renders_nothing_and_says_why() -> None:
    async with serve() as sandbox, sandbox.client("crowdtask") as client:
        chunks = client.tasks.batch_chunks(project_id=1, columns=["name"])
        assert chunks.render(Recipient("row-1", {"name": "x"})) is None
        assert "tasks, not SMS" in chunks.segments_note
        assert chunks.price_per_segment is None

"""CrowdTask through the SDK against the sandbox: task/batch uploads of CVS files."""

from __future__ import annotations

import anyio
import pytest

from crowdsms.sandbox import Sandbox
from crowdsms.sandbox.emulators.crowdtask import CROWDTASK_ACCESS_ID

from .support import TIME_LIMIT, assert_no_secret, crowdtask

ROWS = [
    {"img_url": "https://example.com/1.jpg", "question": "这是猫吗？"},
    {"img_url": "https://example.com/2.jpg", "question": "a value with spaces"},
    {"img_url": "https://example.com/3.jpg", "question": 'she said "hello" twice'},
    {"img_url": "C:\\my files\\4.jpg", "question": '"quoted" at the start'},
    {"img_url": "https://example.com/5.jpg", "question": ""},
    {"img_url": "C:\\tmp\\", "question": 'a back\\"slash before a quote'},
    {"img_url": "two\\\\slashes", "question": "ends\\with\\"},
]


@pytest.mark.asyncio
@pytest.mark.parametrize("auth_location", ["fields", "headers"])
async def test_batch_creates_one_task_per_row(sandbox: Sandbox, auth_location: str):
    with anyio.fail_after(TIME_LIMIT):
        for count, batch_path in enumerate(["/task/batch", "/api/task/batch"], start=1):
            async with crowdtask(
                sandbox, auth_location=auth_location, batch_path=batch_path
            ) as client:
                result = await client.tasks.batch(project_id=1024, rows=ROWS)
            entries = sandbox.ledger.entries()[-len(ROWS) :]
            assert len(sandbox.ledger) == count * len(ROWS), batch_path
            # The sandbox parses the CVS file with its own reader: the values arrive exactly.
            assert [dict(entry.vars) for entry in entries] == ROWS, batch_path
            assert {entry.template for entry in entries} == {"1024"}
            assert {entry.account for entry in entries} == {CROWDTASK_ACCESS_ID}
            assert result.task_count == len(ROWS)
            assert list(result.task_ids) == [entry.message_id for entry in entries]
            assert {entry.request_id for entry in entries} == {result.batch_sn}
            assert_no_secret(result, client)


@pytest.mark.asyncio
async def test_columns_choose_the_order_of_the_variables(sandbox: Sandbox):
    rows = [{"b": "2", "a": "1 1"}, {"b": "4", "a": "3"}]
    with anyio.fail_after(TIME_LIMIT):
        async with crowdtask(sandbox) as client:
            result = await client.tasks.batch(project_id=7, rows=rows, columns=["a", "b"])
    assert result.task_count == 2
    assert [list(entry.vars.items()) for entry in sandbox.ledger] == [
        [("a", "1 1"), ("b", "2")],
        [("a", "3"), ("b", "4")],
    ]

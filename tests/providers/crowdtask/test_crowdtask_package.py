"""The package's shape: what it exports, the blocking twin's contract, the chunk sender's limits."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from collections.abc import Callable, Mapping

import httpx
import pytest
import respx

import crowdsms.providers.crowdtask as package
from crowdsms.batch import BatchOutcome, BatchSender, send_batch
from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.crowdtask import (
    CODES,
    AsyncCrowdTask,
    CrowdTask,
    CrowdTaskChunkSender,
    CrowdTaskTasks,
    TaskEndpoints,
    explain,
)

BASE = "https://api.crowdtask.cn"
COLUMNS = ("question", "image")


def test_every_module_is_private_and_every_export_exists() -> None:
    names = [info.name for info in pkgutil.iter_modules(package.__path__)]
    assert names, "the package has modules"
    assert [name for name in names if not name.startswith("_")] == []
    for name in names:
        importlib.import_module(f"{package.__name__}.{name}")
    assert sorted(package.__all__) == sorted(set(package.__all__))
    for name in package.__all__:
        assert hasattr(package, name), name


def test_the_blocking_twin_takes_the_async_clients_arguments() -> None:
    twin = inspect.signature(CrowdTask.__init__).parameters
    original = inspect.signature(AsyncCrowdTask.__init__).parameters

    def described(
        parameters: Mapping[str, inspect.Parameter],
    ) -> list[tuple[str, object, str, object]]:
        return [
            (name, value.kind, str(value.annotation), value.default)
            for name, value in parameters.items()
            if name != "backend"
        ]

    assert described(twin) == described(original)


def test_every_async_endpoint_method_has_a_blocking_twin() -> None:
    public = {
        name
        for name, value in vars(TaskEndpoints).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }
    assert public == {"batch", "batch_chunks"}
    assert public <= set(vars(CrowdTaskTasks))


def test_explain() -> None:
    assert explain(401) == explain("401") == CODES["401"].explanation
    assert "signature" in explain(401)
    assert explain("418") == "CrowdTask code 418 is not in crowdsms's table of known codes"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, 16),
        ({"max_connections": 4}, 4),
        ({"transport": httpx.MockTransport(lambda request: httpx.Response(500))}, None),
    ],
)
@pytest.mark.asyncio
async def test_the_chunk_sender_reports_the_clients_connections(
    make_client: Callable[..., AsyncCrowdTask], options: dict[str, object], expected: int | None
) -> None:
    async with make_client(**options) as client:
        sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
        assert isinstance(sender, CrowdTaskChunkSender)
        assert sender.max_connections == client.max_connections == expected


@pytest.mark.asyncio
async def test_the_batch_sender_refuses_more_concurrency_than_connections(
    make_client: Callable[..., AsyncCrowdTask],
) -> None:
    async with make_client(max_connections=2) as client:
        sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
        BatchSender(sender, concurrency=2)
        with pytest.raises(ConfigurationError, match="max_connections"):
            BatchSender(sender, concurrency=3)


@pytest.mark.asyncio
async def test_a_repeated_row_identifier_is_skipped_as_a_duplicate(client: AsyncCrowdTask) -> None:
    rows = [
        Recipient("row-1", {"question": "q1", "image": "1.jpg"}),
        Recipient("row-2", {"question": "q2", "image": "2.jpg"}),
        Recipient("row-1", {"question": "q3", "image": "3.jpg"}),
    ]
    answer = {"status": "success", "result": {"tasknum": 2, "batchSN": "SN", "taskids": [1, 2]}}
    received: list[BatchOutcome] = []
    with respx.mock(base_url=BASE, assert_all_called=True) as mock:
        route = mock.post("/task/batch").respond(200, content=json.dumps(answer).encode())
        sender = client.tasks.batch_chunks(project_id=5, columns=COLUMNS)
        await send_batch(sender, rows, sink=received.append, concurrency=1)
    assert route.call_count == 1
    assert b"q3" not in route.calls.last.request.content
    outcomes = sorted(received, key=lambda item: item.position)
    assert [(item.outcome.phone, item.outcome.status) for item in outcomes] == [
        ("row-1", OutcomeStatus.SENT),
        ("row-2", OutcomeStatus.SENT),
        ("row-1", OutcomeStatus.SKIPPED),
    ]
    assert [item.outcome.message_id for item in outcomes[:2]] == ["1", "2"]
    assert outcomes[2].outcome.code == "duplicate"

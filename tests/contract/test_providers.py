"""The provider contract: every registered provider passes these checks.

A provider gets all of them by being registered (the fake fifth provider of
:mod:`fake_provider` runs them too). Layout checks apply to the provider folders inside the
package.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.blocking import BlockingGroup, blocking, passthrough
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers import _registry
from crowdsms.providers._spec import ProviderSpec
from crowdsms.sandbox import FaultKind, FaultSettings, Sandbox, SandboxSettings, serve, serve_asgi
from crowdsms.webhooks import DeliveryEvent, SignedReceiver, WebhookApp

from .fake_provider import SPEC as FAKE

BUILT_IN = _registry.providers()
EVERY = (*BUILT_IN, FAKE)
PROVIDERS_DIR = Path(importlib.import_module("crowdsms.providers").__file__ or "").parent


def ids(spec: ProviderSpec) -> str:
    return spec.name


@pytest.fixture(params=EVERY, ids=ids)
def spec(request: pytest.FixtureRequest) -> Iterator[ProviderSpec]:
    chosen: ProviderSpec = request.param
    if chosen is FAKE:
        with _registry.registered(FAKE):
            yield chosen
    else:
        yield chosen


@pytest.fixture(params=BUILT_IN, ids=ids)
def built_in(request: pytest.FixtureRequest) -> ProviderSpec:
    chosen: ProviderSpec = request.param
    return chosen


def package_of(spec: ProviderSpec) -> Any:
    return importlib.import_module(f"crowdsms.providers.{spec.name}")


def recipients(spec: ProviderSpec, count: int) -> list[Recipient]:
    columns = spec.demo_message.columns
    return [
        Recipient(
            f"138{index:08d}",
            {spec.var_name(column): f"{column[:1]}{index % 97}" for column in columns},
        )
        for index in range(count)
    ]


# -- signing --------------------------------------------------------------------------------


def test_signing_reproduces_the_published_vectors(spec: ProviderSpec) -> None:
    if spec.compute_signature is None:
        assert spec.signature_vectors == ()
        return
    assert spec.signature_vectors, "a provider that signs needs a published vector"
    for vector in spec.signature_vectors:
        assert spec.compute_signature(**vector.arguments) == vector.expected


def test_the_signing_function_is_keyword_only(spec: ProviderSpec) -> None:
    if spec.compute_signature is None:
        return
    kinds = {p.kind for p in inspect.signature(spec.compute_signature).parameters.values()}
    assert kinds == {inspect.Parameter.KEYWORD_ONLY}


# -- codes ----------------------------------------------------------------------------------


def test_every_code_is_explained(spec: ProviderSpec) -> None:
    for code, info in spec.codes.items():
        assert info.explanation
        assert spec.explain(code) == info.explanation
    assert "not in crowdsms's table" in spec.explain("no-such-code")


def test_the_package_exports_its_code_table_and_explain(built_in: ProviderSpec) -> None:
    package = package_of(built_in)
    assert built_in.codes == package.CODES
    for code in list(built_in.codes)[:3]:
        assert package.explain(code) == built_in.explain(code)
    assert isinstance(package.explain("no-such-code"), str)


# -- one folder, alike ----------------------------------------------------------------------

ROLES = ("_client.py", "_chunks.py", "_codes.py", "_models.py", "_validation.py")
ROLES += ("_converter.py", "_signer.py", "_blocking.py", "_provider.py", "__init__.py")


def test_every_folder_has_the_same_files_for_the_same_roles(built_in: ProviderSpec) -> None:
    folder = PROVIDERS_DIR / built_in.name
    files = {path.name for path in folder.glob("*.py")}
    expected = set(ROLES)
    if built_in.compute_signature is not None:
        expected.add("_signing.py")
    if built_in.webhooks:
        expected |= {"_webhooks.py", "_events.py"}
    assert expected <= files, sorted(expected - files)


def test_every_module_is_private_and_the_package_exports_the_public_names(
    built_in: ProviderSpec,
) -> None:
    folder = PROVIDERS_DIR / built_in.name
    public_modules = [p.name for p in folder.glob("*.py") if not p.name.startswith("_")]
    assert public_modules == []
    package = package_of(built_in)
    exported = set(package.__all__)
    wanted = {built_in.async_client.__name__, built_in.blocking_client.__name__, "CODES"}  # type: ignore[attr-defined]
    wanted |= {"explain", "DEFAULT_BASE_URL"} | {cls.__name__ for cls in built_in.webhooks}
    if built_in.compute_signature is not None:
        wanted.add("compute_signature")
    assert wanted <= exported, sorted(wanted - exported)
    for name in exported:
        assert hasattr(package, name), name


# -- report queues --------------------------------------------------------------------------


def test_pull_events_is_absent_or_a_coroutine_function(spec: ProviderSpec) -> None:
    if spec.pull_events is None:
        return
    assert inspect.iscoroutinefunction(spec.pull_events)
    parameters = list(inspect.signature(spec.pull_events).parameters.values())
    assert len(parameters) == 2, "pull_events(client, sign)"


# -- blocking twins -------------------------------------------------------------------------


def _constructor(cls: type[Any]) -> list[tuple[str, object, object, object]]:
    return [
        (p.name, p.kind, p.default, str(p.annotation))
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in ("self", "backend")
    ]


def test_the_twin_takes_exactly_the_async_clients_arguments(spec: ProviderSpec) -> None:
    assert _constructor(spec.blocking_client) == _constructor(spec.async_client)  # type: ignore[arg-type]


def _endpoint_groups(client: object) -> dict[str, object]:
    return {
        name: value
        for name, value in vars(client).items()
        if not name.startswith("_")
        and any(
            inspect.iscoroutinefunction(member)
            for _, member in inspect.getmembers(type(value), inspect.isfunction)
        )
    }


def test_every_async_endpoint_method_has_a_blocking_twin(spec: ProviderSpec) -> None:
    credentials = {field.name: "x" for field in spec.credentials}
    client = spec.make_client(credentials)
    groups = _endpoint_groups(client)
    assert groups, "a client has at least one endpoint group"
    with spec.blocking_client(**credentials) as twin:
        for group_name, group in groups.items():
            twin_group = getattr(twin, group_name, None)
            assert isinstance(twin_group, BlockingGroup), f"{spec.name}: no twin of {group_name}"
            for method_name, member in inspect.getmembers(type(group), inspect.isfunction):
                if method_name.startswith("_"):
                    continue
                declared = inspect.getattr_static(type(twin_group), method_name, None)
                assert isinstance(declared, (blocking, passthrough)), (
                    f"{spec.name}: {group_name}.{method_name} has no blocking twin"
                )
                expected = blocking if inspect.iscoroutinefunction(member) else passthrough
                assert isinstance(declared, expected), f"{group_name}.{method_name}"


@pytest.mark.parametrize("http_backend", ["httpx", "auto"])
def test_every_clients_repr_names_its_http_library(spec: ProviderSpec, http_backend: str) -> None:
    credentials = {field.name: "x" for field in spec.credentials}
    client = spec.make_client(credentials, http_backend=http_backend)
    assert client.http_backend == http_backend  # made outside a loop: "auto" stays "auto"
    assert f"http={http_backend!r}" in repr(client)
    with spec.blocking_client(**credentials, http_backend=http_backend) as twin:
        library = twin.async_client.http_backend  # made on the twin's own asyncio loop
        assert f"http={library!r}" in repr(twin)
    expected = {"httpx", "aiohttp"} if http_backend == "auto" else {"httpx"}
    assert library in expected


# -- chunk senders --------------------------------------------------------------------------


def _chunk_sender(spec: ProviderSpec) -> Any:
    credentials = {field.name: "x" for field in spec.credentials}
    return spec.chunk_sender(spec.make_client(credentials), spec.demo_message)


def test_every_chunk_sender_declares_whether_it_carries_a_reference(spec: ProviderSpec) -> None:
    sender = _chunk_sender(spec)
    assert isinstance(getattr(sender, "supports_reference", None), bool)
    assert isinstance(sender.supports_idempotency_key, bool)


def test_every_chunk_sender_takes_the_same_send_chunk_arguments(spec: ProviderSpec) -> None:
    parameters = inspect.signature(_chunk_sender(spec).send_chunk).parameters.values()
    assert [(p.name, p.kind, p.default) for p in parameters] == [
        ("recipients", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("idempotency_key", inspect.Parameter.KEYWORD_ONLY, None),
        ("reference", inspect.Parameter.KEYWORD_ONLY, None),
    ]


@pytest.mark.asyncio
async def test_every_chunk_sender_sends_with_a_reference(spec: ProviderSpec) -> None:
    """A reference is sent where the provider carries one, and ignored elsewhere."""
    given = recipients(spec, 3)
    async with serve() as sandbox:
        async with sandbox.client(spec.name) as client:
            sender = spec.chunk_sender(client, spec.demo_message)
            outcomes = await sender.send_chunk(given, reference="job-1:0")
            outcomes = [*outcomes, *await sender.send_chunk(given[:1], reference=None)]
        sent = len(sandbox.ledger.entries(provider=spec.name))
    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 4
    assert [o.phone for o in outcomes] == [r.phone for r in given] + [given[0].phone]
    assert sent == 4


# -- the sandbox round trip, through faults -------------------------------------------------


@pytest.mark.asyncio
async def test_one_outcome_per_recipient_in_order_through_faults(spec: ProviderSpec) -> None:
    faults = FaultSettings(
        rates={
            FaultKind.REJECT: 0.15,
            FaultKind.DROP: 0.15,
            FaultKind.DROP_AFTER: 0.15,
        },
        seed=11,
    )
    given = recipients(spec, 60)
    async with serve(SandboxSettings(faults=faults)) as sandbox:
        async with sandbox.client(spec.name, max_connections=4) as client:
            chunk_sender = spec.chunk_sender(client, spec.demo_message)
            outcomes: list[BatchOutcome] = []
            await BatchSender(chunk_sender, concurrency=4, chunk_size=5).send(
                given, sink=outcomes.append
            )
        ledger = sandbox.ledger.entries(provider=spec.name)
        injected = sum(sandbox.faults.injected.values())
    assert injected > 0, "no fault was injected"
    assert [o.position for o in outcomes] == list(range(len(given)))
    assert [o.phone for o in outcomes] == [r.phone for r in given]
    assert OutcomeStatus.SENT in {o.status for o in outcomes}
    keys = [entry.phone or entry.vars.get("phone") or entry.request_id for entry in ledger]
    sent = [o.phone for o in outcomes if o.status is OutcomeStatus.SENT]
    maybe = [o.phone for o in outcomes if o.status is OutcomeStatus.UNKNOWN]
    assert len(ledger) >= len(sent)
    assert len(ledger) <= len(sent) + len(maybe)
    if spec.name != "crowdtask":  # CrowdTask's ledger records rows, not numbers
        assert len(set(keys)) == len(keys), "a recipient was sent twice"
        assert set(sent) <= set(keys)
        assert set(keys) <= set(sent) | set(maybe)


@pytest.mark.asyncio
async def test_refused_credentials_fail_every_recipient_and_send_nothing(
    spec: ProviderSpec,
) -> None:
    async with serve() as sandbox:
        credentials: dict[str, object] = dict(sandbox.credentials(spec.name))
        secret = next(field.name for field in spec.credentials if field.secret)
        credentials[secret] = "wrong-" + str(credentials[secret])
        client = spec.make_client(credentials, base_url=sandbox.base_url(spec.name))
        async with client:
            chunk_sender = spec.chunk_sender(client, spec.demo_message)
            outcomes: list[BatchOutcome] = []
            await BatchSender(chunk_sender, concurrency=2, chunk_size=5).send(
                recipients(spec, 10), sink=outcomes.append
            )
        assert sandbox.ledger.entries(provider=spec.name) == []
    assert [o.status for o in outcomes] == [OutcomeStatus.FAILED] * 10
    assert all(o.outcome.code for o in outcomes)


# -- webhooks -------------------------------------------------------------------------------


async def _pushed_events(spec: ProviderSpec, sandbox: Sandbox, *, key_ok: bool) -> list[Any]:
    emulator = sandbox.emulator(spec.name)
    events: list[DeliveryEvent] = []

    async def record(event: DeliveryEvent) -> None:
        events.append(event)

    receivers = {}
    for cls in spec.webhooks:
        options = dict(emulator.webhook_options())
        if not key_ok:
            options = {name: "wrong-" + value for name, value in options.items()}
        receivers[spec.name] = cls(**options)
    app = WebhookApp(handlers={DeliveryEvent: record}, **receivers)
    async with serve_asgi(app) as url:
        first_path = next(iter(app.paths))
        sandbox.configure(webhooks={spec.name: url + first_path}, webhook_attempts=1)
        async with sandbox.client(spec.name) as client:
            chunk_sender = spec.chunk_sender(client, spec.demo_message)
            await chunk_sender.send_chunk(recipients(spec, 2))
        wanted = {r.phone for r in recipients(spec, 2)}

        def done() -> bool:
            if key_ok:  # every recipient's report has reached the handler
                return {event.phone for event in events} >= wanted
            return len(sandbox.webhook_records) >= 1  # a refused push was recorded

        with anyio.fail_after(10):
            # the sandbox's push queue is another task's state: poll it
            while not done():  # noqa: ASYNC110
                await anyio.sleep(0.02)
    return events


PUSHERS = [spec for spec in BUILT_IN if spec.webhooks]
SIGNED = [spec for spec in PUSHERS if any(issubclass(cls, SignedReceiver) for cls in spec.webhooks)]


@pytest.mark.asyncio
@pytest.mark.parametrize("spec", PUSHERS, ids=ids)
async def test_pushed_reports_are_verified_and_reach_the_handler(spec: ProviderSpec) -> None:
    async with serve() as sandbox:
        events = await _pushed_events(spec, sandbox, key_ok=True)
        records = sandbox.webhook_records
    assert all(record.delivered for record in records)
    assert {event.phone for event in events} >= {r.phone for r in recipients(spec, 2)}


@pytest.mark.asyncio
@pytest.mark.parametrize("spec", SIGNED, ids=ids)
async def test_a_push_signed_with_another_key_is_refused(spec: ProviderSpec) -> None:
    async with serve() as sandbox:
        events = await _pushed_events(spec, sandbox, key_ok=False)
        records = sandbox.webhook_records
    assert events == []
    assert records
    assert {record.status_code for record in records} == {403}

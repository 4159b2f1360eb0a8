"""A large ledger is read a page at a time, in Python and over ``GET /_sandbox/ledger``."""

from __future__ import annotations

import httpx
import pytest

from crowdsms.sandbox import Sandbox
from crowdsms.sandbox._admin import DEFAULT_LEDGER_LIMIT, MAX_LEDGER_LIMIT
from crowdsms.sandbox._ledger import Ledger, LedgerEntry

PROVIDERS = ("submail", "paasw", "sendcloud")


def _entry(number: int) -> LedgerEntry:
    return LedgerEntry(
        provider=PROVIDERS[number % len(PROVIDERS)],
        endpoint="sms/send",
        account="acct",
        phone=f"138{number:08d}",
        content=f"message {number}",
        template=None,
        vars={},
        message_id=f"id-{number}",
        fee=1,
        time=1_700_000_000.0 + number,
    )


def _fill(ledger: Ledger, count: int) -> list[LedgerEntry]:
    entries = [_entry(number) for number in range(count)]
    for entry in entries:
        ledger.record(entry)
    return entries


# --- the Python ledger --------------------------------------------------------------------


def test_entries_reads_a_window_and_by_default_everything() -> None:
    ledger = Ledger()
    recorded = _fill(ledger, 30)
    assert ledger.entries() == recorded
    assert ledger.entries(offset=5, limit=10) == recorded[5:15]
    assert ledger.entries(offset=25) == recorded[25:]
    assert ledger.entries(offset=40, limit=10) == []
    assert ledger.entries(limit=0) == []
    paasw = [entry for entry in recorded if entry.provider == "paasw"]
    assert ledger.entries(provider="paasw") == paasw
    assert ledger.entries(provider="paasw", offset=2, limit=3) == paasw[2:5]


def test_page_says_how_many_entries_there_are_in_all() -> None:
    ledger = Ledger()
    recorded = _fill(ledger, 30)
    page = ledger.page(offset=10, limit=4)
    assert (page.count, page.offset, page.limit, page.entries) == (30, 10, 4, recorded[10:14])
    paasw = ledger.page(provider="paasw", limit=2)
    assert (paasw.count, paasw.entries) == (10, [e for e in recorded if e.provider == "paasw"][:2])
    assert ledger.page(provider="nobody").count == 0
    assert (ledger.count(), ledger.count(provider="submail"), ledger.count(provider="x")) == (
        30,
        10,
        0,
    )


def test_a_page_is_a_copy_that_later_records_do_not_change() -> None:
    ledger = Ledger()
    _fill(ledger, 3)
    page = ledger.page()
    ledger.record(_entry(99))
    ledger.clear()
    assert page.count == 3
    assert len(page.entries) == 3


@pytest.mark.parametrize(("offset", "limit"), [(-1, None), (0, -1), (-5, 10)])
def test_negative_windows_are_refused(offset: int, limit: int | None) -> None:
    with pytest.raises(ValueError, match="0 or more"):
        Ledger().entries(offset=offset, limit=limit)


# --- over HTTP ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_ledger_endpoint_answers_one_page_by_default(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    recorded = _fill(sandbox.state.ledger, MAX_LEDGER_LIMIT + 500)
    answer = (await client.get("/_sandbox/ledger")).json()
    assert answer["count"] == MAX_LEDGER_LIMIT + 500
    assert (answer["offset"], answer["limit"]) == (0, DEFAULT_LEDGER_LIMIT)
    assert answer["entries"] == [entry.to_json() for entry in recorded[:DEFAULT_LEDGER_LIMIT]]
    biggest = (await client.get("/_sandbox/ledger", params={"limit": MAX_LEDGER_LIMIT})).json()
    assert len(biggest["entries"]) == MAX_LEDGER_LIMIT


@pytest.mark.asyncio
async def test_paging_through_the_ledger_reads_every_entry_once(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    recorded = _fill(sandbox.state.ledger, 2_345)
    for provider in (None, "paasw"):
        expected = [e.to_json() for e in recorded if provider is None or e.provider == provider]
        read: list[dict[str, object]] = []
        offset = 0
        while True:
            params: dict[str, str | int] = {"offset": offset, "limit": 500}
            if provider is not None:
                params["provider"] = provider
            page = (await client.get("/_sandbox/ledger", params=params)).json()
            assert (page["count"], page["offset"], page["limit"]) == (len(expected), offset, 500)
            read += page["entries"]
            offset += 500
            if offset >= page["count"]:
                break
        assert read == expected


@pytest.mark.asyncio
async def test_past_the_end_and_limit_zero_give_no_entries_but_the_count(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    _fill(sandbox.state.ledger, 10)
    past = (await client.get("/_sandbox/ledger", params={"offset": 50})).json()
    assert past == {"count": 10, "offset": 50, "limit": DEFAULT_LEDGER_LIMIT, "entries": []}
    counted = (await client.get("/_sandbox/ledger", params={"limit": 0})).json()
    assert counted == {"count": 10, "offset": 0, "limit": 0, "entries": []}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"offset": "-1"}, "offset must be a whole number 0 or more, not '-1'"),
        ({"offset": "x"}, "offset must be a whole number"),
        ({"offset": ""}, "offset must be a whole number"),
        ({"limit": "1.5"}, f"limit must be a whole number from 0 to {MAX_LEDGER_LIMIT}"),
        ({"limit": str(MAX_LEDGER_LIMIT + 1)}, f"from 0 to {MAX_LEDGER_LIMIT}, not '10001'"),
        ({"limit": "-3"}, "limit must be a whole number"),
        ({"limit": " 5"}, "limit must be a whole number"),
        ({"limt": "5"}, "no parameter 'limt' (did you mean 'limit'?)"),
    ],
)
@pytest.mark.asyncio
async def test_bad_paging_parameters_are_refused_with_400(
    client: httpx.AsyncClient, params: dict[str, str], words: str
) -> None:
    answer = await client.get("/_sandbox/ledger", params=params)
    assert answer.status_code == 400
    assert words in answer.json()["error"]

"""10. Stages: client CPU per recipient of each stage of crowdsms's batch pipeline, alone.

Runs with section 1 (``overhead``), over the same recipients, and splits crowdsms's CPU per
recipient measured there into what each stage of the job costs when it runs by itself, in
this process, with no network and no event loop between the steps:

- ``screening``: each recipient validated by the chunk sender and checked against the
  numbers seen (the batch sender's screener);
- ``chunking``: the screened recipients cut into blocks of 50 (the job's chunker);
- ``request``: for each chunk, what the chunk sender does before the wire: its checks, the
  request (the ``multi`` JSON), the signature and the wire request (the JSON body);
- ``parsing``: each answer decoded and read into one typed outcome per recipient, from an
  answer the sandbox gave (recorded once, before the timing, with each chunk's numbers put
  in);
- ``report``: each chunk's outcomes handed to its block and counted, and the final report.

Each stage's share is of crowdsms's median CPU per recipient in section 1 at each
concurrency; what the stages do not account for is the transport (the attempt loop and
the HTTP library), the event loop and the job's tasks and streams. Each stage is timed with
``time.process_time`` around a loop over every recipient (or chunk), ``rounds`` times; the
figure is the median.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx

from benchmarks._overhead import OverheadResult
from benchmarks._sandbox import SandboxProcess
from benchmarks._submail import CHUNK, CONTENT, JSON_HEADERS, PATH, json_body, make_recipients
from benchmarks._table import Row, us
from crowdsms._transport import ApiResponse
from crowdsms._transport.encode import to_wire_request
from crowdsms._transport.wire import WireRequest
from crowdsms.batch._chunking import Block, Chunker
from crowdsms.batch._report import BatchOutcome, Tally
from crowdsms.batch._screen import Screener, input_phone_of
from crowdsms.outcomes import CheckedRecipients, Recipient, RecipientOutcome
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.providers.submail._converter import decode_answer, parse_multisend_outcomes
from crowdsms.providers.submail._requests import MULTISEND_OPERATION
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

__all__ = ["STAGES", "StagesResult", "measure_stages"]

STAGES = ("screening", "chunking", "request", "parsing", "report")

_LABELS = {
    "screening": "screening: validate + duplicate check",
    "chunking": "chunking: blocks of 50",
    "request": "request: checks, `multi` JSON, signature, wire request",
    "parsing": "parsing: answer -> typed outcomes",
    "report": "report: counting outcomes, final report",
}


class _Encoded(Exception):
    """Raised by the stub transport once the request is on its way to the wire."""


class _StubRequests:
    """Stands in for a chunk sender's requests: signs each request with the client's signer
    and encodes it for the wire as the client's transport does, then stops (sends nothing)."""

    def __init__(self, client: AsyncSubmail, *, max_recipients: int) -> None:
        self._transport = client._transport
        self.max_multisend_recipients = max_recipients
        self.max_connections = None

    async def call(self, request: Any) -> tuple[Any, ApiResponse]:
        transport = self._transport
        signed = await transport.signer.sign(request, now=transport.clock.now())
        _encode(transport, signed)
        raise _Encoded


def _encode(transport: Any, signed: Any) -> WireRequest:
    """The wire request, as the transport's attempt loop builds it."""
    return to_wire_request(
        signed,
        base_url=transport.base_url,
        timeout=transport.timeout,
        user_agent=transport.user_agent,
        timeout_dict=transport._timeout_dict,
    )


@dataclass
class StagesResult:
    """Each stage's median CPU per recipient, and crowdsms's totals from section 1."""

    per_recipient: dict[str, float]
    """Microseconds of CPU per recipient, by stage."""
    totals: dict[int, float]
    """crowdsms's median CPU per recipient in section 1, by concurrency (may be empty)."""

    def rows(self) -> list[Row]:
        """One row per stage (with its share of each total), then the remainder."""
        rows = []
        for stage in STAGES:
            value = self.per_recipient[stage]
            shares = "; ".join(
                f"{value / total:.0%} of c={concurrency}'s {us(total)}"
                for concurrency, total in self.totals.items()
            )
            measured = f"{us(value)}/recipient" + (f"; {shares}" if shares else "")
            rows.append(Row("10", _LABELS[stage], measured))
        stages = sum(self.per_recipient.values())
        rows.append(Row("10", "every stage above", f"{us(stages)}/recipient"))
        for concurrency, total in self.totals.items():
            rest = total - stages
            rows.append(
                Row(
                    "10",
                    f"c={concurrency}: the rest (transport, event loop, the job's tasks)",
                    f"{us(rest)}/recipient; {rest / total:.0%} of {us(total)}",
                )
            )
        return rows


def _record_answer(sandbox: SandboxProcess, chunk: Sequence[Recipient]) -> tuple[int, Any, Any]:
    """One real answer of the sandbox to a multisend of ``chunk``: status, headers, JSON."""
    with httpx.Client(trust_env=False, timeout=60) as http:
        answer = http.post(
            f"{sandbox.submail_url}/{PATH}",
            content=json_body(chunk, now=time.time()),
            headers=JSON_HEADERS,
        )
    answer.raise_for_status()
    items = answer.json()
    if not isinstance(items, list) or len(items) != len(chunk):
        raise RuntimeError(f"the sandbox answered {answer.text[:300]}")
    return answer.status_code, answer.headers, items


def _answers(
    recorded: tuple[int, Any, Any], chunks: Sequence[Sequence[Recipient]]
) -> list[ApiResponse]:
    """The recorded answer once per chunk, each with its chunk's numbers."""
    status, headers, items = recorded
    answers = []
    for chunk in chunks:
        body = [
            {**item, "to": recipient.phone} if "to" in item else dict(item)
            for item, recipient in zip(items, chunk, strict=False)
        ]
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        answers.append(
            ApiResponse(
                status_code=status,
                headers=headers,
                content=content,
                operation=MULTISEND_OPERATION,
                attempts=1,
            )
        )
    return answers


_T = TypeVar("_T")


def _timed(work: Callable[[], _T]) -> tuple[float, _T]:
    gc.collect()
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


async def _round(
    client: AsyncSubmail, people: Sequence[Recipient], recorded: tuple[int, Any, Any]
) -> dict[str, float]:
    """One round of every stage; seconds of CPU by stage."""
    requests = _StubRequests(client, max_recipients=CHUNK)
    sender = client.sms.multisend_chunks(content=CONTENT)
    sender._requests = cast(Any, requests)  # its checks and request building, nothing sent
    seconds: dict[str, float] = {}

    def screen() -> list[tuple[int, Recipient | BatchOutcome, str]]:
        screener = Screener.for_chunk_sender(sender)
        return [
            (position, screener.screen(item, position, phone), phone)
            for position, item in enumerate(people)
            for phone in (input_phone_of(item),)
        ]

    seconds["screening"], screened = _timed(screen)

    def chunk() -> list[Block]:
        chunker = Chunker(CHUNK)
        blocks = []
        for position, item, phone in screened:
            block = chunker.add(position, item, phone)
            if block is not None:
                blocks.append(block)
        last = chunker.flush(len(people))
        if last is not None:
            blocks.append(last)
        return blocks

    seconds["chunking"], blocks = _timed(chunk)
    chunks = [CheckedRecipients(block.recipients, checked_by=sender) for block in blocks]

    started = time.process_time()
    for recipients in chunks:
        with contextlib.suppress(_Encoded):
            await sender.send_chunk(recipients)
    seconds["request"] = time.process_time() - started

    answers = _answers(recorded, chunks)

    def parse() -> list[list[RecipientOutcome]]:
        return [
            parse_multisend_outcomes(
                decode_answer(response),
                response,
                phones=[recipient.phone for recipient in recipients],
            )
            for recipients, response in zip(chunks, answers, strict=True)
        ]

    seconds["parsing"], results = _timed(parse)

    def report() -> None:
        tally = Tally()
        for block, outcomes in zip(blocks, results, strict=True):
            block.finish(outcomes)
            tally.add_results(block.results or [], replayed=0)
        tally.report(job_id="stages", duration=1.0, resumed=False)

    seconds["report"], _ = _timed(report)
    return seconds


def measure_stages(
    sandbox: SandboxProcess,
    *,
    recipients: int,
    rounds: int,
    overhead: OverheadResult | None = None,
) -> StagesResult:
    """Time every stage ``rounds`` times over ``recipients`` recipients (as section 1's).

    ``overhead`` is section 1's result, for each stage's share of crowdsms's figure there.
    """
    people = make_recipients(recipients)
    recorded = _record_answer(sandbox, people[:CHUNK])

    async def measure() -> list[dict[str, float]]:
        async with AsyncSubmail(
            app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY, base_url=sandbox.submail_url
        ) as client:
            await _round(client, people[: min(len(people), 2_000)], recorded)  # warm-up
            measured = []
            for number in range(rounds):
                measured.append(await _round(client, people, recorded))
                print(
                    f"  [10] round {number + 1}/{rounds} "
                    + ", ".join(
                        f"{stage} {measured[-1][stage] / len(people) * 1e6:.2f} us"
                        for stage in STAGES
                    ),
                    file=sys.stderr,
                    flush=True,
                )
            return measured

    measured = asyncio.run(measure())
    per_recipient = {
        stage: statistics.median(seconds[stage] for seconds in measured) / len(people) * 1e6
        for stage in STAGES
    }
    totals = {
        concurrency: statistics.median(run.cpu_per_recipient for run in by_name["crowdsms"])
        for concurrency, by_name in (overhead.runs if overhead is not None else {}).items()
    }
    return StagesResult(per_recipient, totals)

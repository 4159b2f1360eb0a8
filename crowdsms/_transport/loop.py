"""The one attempt loop every provider's calls go through.

Per attempt: sign with the skew-corrected time, send, classify. Then one of:

- a usable answer: hand it to the endpoint (which parses it and maps provider codes);
- a clock rejection: re-measure the clock, re-sign and retry once, outside the retry budget;
- a credential rejection: refresh the credential, re-sign and retry once, outside the budget;
- a failure: retry if it is safe (``NOT_SENT``, or ``UNKNOWN`` on a call that may repeat),
  attempts remain, the wait fits in the total deadline and the shared retry budget allows
  it; otherwise raise the typed error, with its delivery certainty.
"""

from __future__ import annotations

import logging

import anyio
import attrs
import httpx

from crowdsms._transport.budget import RetryBudget
from crowdsms._transport.classify import error_for_exception, error_for_status
from crowdsms._transport.clock import SkewClock
from crowdsms._transport.connections import AttemptState, Sender
from crowdsms._transport.encode import to_wire_request
from crowdsms._transport.policy import RetryPolicy
from crowdsms._transport.request import ApiRequest, ApiResponse
from crowdsms._transport.retry_after import parse_retry_after
from crowdsms._transport.runtime import Runtime
from crowdsms._transport.signer import Rejection, RejectionAwareSigner, RejectionKind, Signer
from crowdsms.errors import (
    DeadlineExceededError,
    DeliveryCertainty,
    RequestError,
    RequestTimeoutError,
)
from crowdsms.telemetry._call import NO_CALL, CallProbe, start_call

__all__ = ["Transport"]

logger = logging.getLogger("crowdsms.transport")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, write=10.0, pool=None)
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

# Reading a provider's clock: one retry, since a corrected clock is worth a second try.
_CLOCK_POLICY = RetryPolicy(max_attempts=2)


@attrs.define
class _Failure:
    error: RequestError
    retry_after: float | None = None


class Transport:
    """Sends a provider's logical requests with signing, retries and clock correction."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        signer: Signer,
        sender: Sender,
        policy: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        clock: SkewClock | None = None,
        runtime: Runtime | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str = "crowdsms",
        account: str | None = None,
    ) -> None:
        self.provider = provider
        self.account = account
        """The identity the client signs with (an app id, a user name; never a secret)."""
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.sender = sender
        self.policy = policy or RetryPolicy()
        self.budget = budget or RetryBudget()
        self.runtime = runtime or Runtime()
        self.clock = clock or SkewClock(self.runtime.wall_time)
        self.timeout = timeout
        self._timeout_dict = timeout.as_dict()
        self.max_response_bytes = max_response_bytes
        self.user_agent = user_agent

    def __repr__(self) -> str:
        return f"<Transport {self.provider} {self.base_url}>"

    @property
    def target(self) -> dict[str, str]:
        """Where the requests go, with nothing secret: the provider, the base URL (scheme,
        host, port and path only) and the account. A batch job's journal records it."""
        target = {"provider": self.provider}
        try:
            url = httpx.URL(self.base_url)
        except (httpx.InvalidURL, TypeError):
            url = None
        if url is not None and url.host:
            clean = url.copy_with(username=None, password=None, query=None, fragment=None)
            target["base_url"] = str(clean).rstrip("/")
        if self.account is not None:
            target["account"] = self.account
        return target

    async def aclose(self) -> None:
        """Close the connections."""
        await self.sender.aclose()

    async def request(
        self, request: ApiRequest, *, policy: RetryPolicy | None = None
    ) -> ApiResponse:
        """Make ``request``, retrying as the policy and the request's safety allow."""
        policy = policy or self.policy
        deadline = self.runtime.monotonic() + policy.total_timeout
        return await self._request(
            request, policy=policy, deadline=deadline, budget=self.budget, repair=True
        )

    async def _request(
        self,
        request: ApiRequest,
        *,
        policy: RetryPolicy,
        deadline: float,
        budget: RetryBudget,
        repair: bool,
    ) -> ApiResponse:
        call = start_call(self.provider, self.base_url, request)  # telemetry: span, metrics
        try:
            response = await self._call(
                request, call, policy=policy, deadline=deadline, budget=budget, repair=repair
            )
        except BaseException as error:
            call.failed(error)
            raise
        call.succeeded(response.status_code)
        return response

    async def _call(
        self,
        request: ApiRequest,
        call: CallProbe,
        *,
        policy: RetryPolicy,
        deadline: float,
        budget: RetryBudget,
        repair: bool,
    ) -> ApiResponse:
        attempt = 0  # every attempt made, for the answer and the error
        counted = 0  # attempts that count against policy.max_attempts
        repaired: set[RejectionKind] = set()
        # The last attempt that may have been processed. Once one may have been, the call
        # as a whole may have been, whatever later attempts say: a refusal of a retry
        # (a 503, a rejected timestamp) proves nothing about the earlier attempt.
        ambiguous: RequestError | None = None
        while True:
            attempt += 1
            counted += 1
            try:
                signed, outcome = await self._attempt(request, attempt, deadline, policy, call)
                if isinstance(outcome, ApiResponse):
                    rejection = self.signer.detect_rejection(outcome)
                    call.attempt_done(outcome.status_code, rejection.error if rejection else None)
                    if rejection is None:
                        budget.refund()
                        return outcome
                    rejection.error.attempts = attempt
                    if repair and rejection.kind not in repaired:
                        repaired.add(rejection.kind)
                        rejection = attrs.evolve(rejection, request=signed)
                        await self._repair(rejection, outcome, deadline)
                        counted -= 1  # a repaired rejection is outside the retry budget
                        continue
                    raise rejection.error
            except RequestError as error:
                final = self._final_error(error, ambiguous, attempt)
                if final is error:
                    raise
                raise final from error
            failure = outcome
            call.attempt_done(None, failure.error)
            if failure.error.certainty is DeliveryCertainty.UNKNOWN:
                ambiguous = failure.error
            delay = self._retry_delay(request, failure, policy, counted, deadline, budget)
            if delay is None:
                failure.error.attempts = attempt
                final = self._final_error(failure.error, ambiguous, attempt)
                if final is failure.error:
                    raise final
                raise final from failure.error
            logger.debug(
                "%s: retrying in %.3f s after attempt %d failed: %s",
                request.operation,
                delay,
                attempt,
                failure.error.what,
            )
            await self.runtime.sleep(delay)

    def _final_error(
        self, error: RequestError, ambiguous: RequestError | None, attempt: int
    ) -> RequestError:
        """``error``, unless an earlier attempt may have been processed: then that one's.

        A call whose earlier attempt may have reached the provider is ``UNKNOWN`` even if
        its last attempt was provably refused, or the caller would be told that sending
        again is safe.
        """
        if ambiguous is None or ambiguous is error:
            return error
        if error.certainty is not DeliveryCertainty.NOT_SENT:
            return error
        logger.debug(
            "%s: attempt %d was refused (%s), but an earlier attempt may have been processed: %s",
            error.operation,
            attempt,
            error.what,
            ambiguous.what,
        )
        ambiguous.attempts = attempt
        return ambiguous

    async def _attempt(
        self,
        request: ApiRequest,
        attempt: int,
        deadline: float,
        policy: RetryPolicy,
        call: CallProbe = NO_CALL,
    ) -> tuple[ApiRequest, ApiResponse | _Failure]:
        """The request as signed for this attempt (``request`` if never signed), and its outcome."""
        runtime = self.runtime
        state = AttemptState()
        if runtime.monotonic() >= deadline:  # e.g. a clock correction used up the time left
            return request, _Failure(self._deadline_error(request, state))
        signed = await self.signer.sign(request, now=self.clock.now())
        wire = to_wire_request(
            signed,
            base_url=self.base_url,
            timeout=self.timeout,
            user_agent=self.user_agent,
            timeout_dict=self._timeout_dict,
        )
        sent_at = runtime.wall_time()
        started = runtime.monotonic()
        remaining = deadline - started
        received = None
        call.sending()
        try:
            with anyio.move_on_after(max(remaining, 0.0)):
                received = await self.sender.send(
                    wire, max_body=self.max_response_bytes, state=state
                )
        except httpx.HTTPError as exc:
            error = error_for_exception(
                exc,
                operation=request.operation,
                url=f"{self.base_url}/{request.path.lstrip('/')}",
            )
            if isinstance(error, RequestError):
                logger.debug(
                    "%s attempt %d: %s %s failed: %s",
                    request.operation,
                    attempt,
                    request.method,
                    request.path,
                    error.what,
                )
                return signed, _Failure(error)
            raise error from exc
        except RequestError as error:  # the body was too large
            return signed, _Failure(error)
        if received is None:
            return signed, _Failure(self._deadline_error(request, state))
        received_at = runtime.wall_time()
        response = ApiResponse(
            status_code=received.status_code,
            headers=received.headers,
            content=received.content,
            operation=request.operation,
            attempts=attempt,
        )
        if logger.isEnabledFor(logging.DEBUG):  # looking up the request id costs more than the call
            logger.debug(
                "%s attempt %d: %s %s -> %d in %.1f ms (request id %s)",
                request.operation,
                attempt,
                request.method,
                request.path,
                response.status_code,
                (runtime.monotonic() - started) * 1000.0,
                response.request_id,
            )
        self.clock.observe_date_header(response.headers, sent_at=sent_at, received_at=received_at)
        return signed, self._classify_status(response, policy=policy)

    def _classify_status(
        self, response: ApiResponse, *, policy: RetryPolicy
    ) -> ApiResponse | _Failure:
        status = response.status_code
        if status in policy.not_processed_statuses:
            certainty = DeliveryCertainty.NOT_SENT
        elif status in policy.ambiguous_statuses or status >= 500:
            certainty = DeliveryCertainty.UNKNOWN
        else:
            return response
        retry_after = parse_retry_after(response.headers, now=self.clock.now())
        error = error_for_status(response, certainty=certainty, retry_after=retry_after)
        return _Failure(error, retry_after)

    def _deadline_error(self, request: ApiRequest, state: AttemptState) -> RequestError:
        certainty = DeliveryCertainty.UNKNOWN if state.started else DeliveryCertainty.NOT_SENT
        return DeadlineExceededError(
            "the call's total deadline ran out during an attempt",
            certainty=certainty,
            operation=request.operation,
            received="no answer",
            action=(
                "Raise the client's total timeout if the provider is slow, or check its "
                "delivery reports before sending again"
                if certainty is DeliveryCertainty.UNKNOWN
                else "Raise the client's total timeout or lower the concurrency"
            ),
        )

    def _retry_delay(
        self,
        request: ApiRequest,
        failure: _Failure,
        policy: RetryPolicy,
        counted: int,
        deadline: float,
        budget: RetryBudget,
    ) -> float | None:
        """The wait before the next attempt, or ``None`` to give up with ``failure``."""
        error = failure.error
        if isinstance(error, DeadlineExceededError):
            return None
        if error.certainty is DeliveryCertainty.UNKNOWN and not request.may_repeat_ambiguous:
            logger.debug("%s: not retried, the provider may have acted", request.operation)
            return None
        if counted >= policy.max_attempts:
            return None
        delay = policy.delay(counted, failure.retry_after, self.runtime.random)
        if delay is None:
            logger.debug("%s: server asked to wait longer than allowed", request.operation)
            return None
        if self.runtime.monotonic() + delay >= deadline:
            logger.debug("%s: no time left for another attempt", request.operation)
            return None
        if not budget.try_spend(timeout=isinstance(error, RequestTimeoutError)):
            logger.warning(
                "%s: retry budget exhausted; not retrying (is the provider down?)",
                request.operation,
            )
            return None
        return delay

    async def _repair(self, rejection: Rejection, response: ApiResponse, deadline: float) -> None:
        if rejection.kind is RejectionKind.CLOCK:
            logger.info("%s: timestamp rejected; re-measuring the clock", response.operation)
            try:
                await self._measure_clock(fallback=response, deadline=deadline)
            except RequestError as exc:
                # The call was refused before it was processed: report that, not the
                # failure of the clock measurement (kept as the cause).
                logger.info("%s: measuring the clock failed: %s", response.operation, exc.what)
                raise rejection.error from exc
        else:
            logger.info("%s: credentials rejected; refreshing them", response.operation)
            if isinstance(self.signer, RejectionAwareSigner):
                await self.signer.refresh_rejected_credentials(rejection)
            else:
                await self.signer.refresh_credentials()

    async def measure_clock(self, *, fallback: ApiResponse | None = None) -> float:
        """Measure the offset from the provider's timestamp endpoint and return it.

        Providers without one use the ``Date`` header of ``fallback`` (the rejection that
        prompted the measurement), which proves our clock is off, so it is applied as is.
        """
        return await self._measure_clock(fallback=fallback, deadline=None)

    async def _measure_clock(
        self, *, fallback: ApiResponse | None, deadline: float | None
    ) -> float:
        time_request = self.signer.server_time_request()
        if time_request is None:
            if fallback is not None:
                now = self.runtime.wall_time()
                self.clock.observe_date_header(
                    fallback.headers, sent_at=now, received_at=now, force=True
                )
            return self.clock.offset
        if deadline is None:
            deadline = self.runtime.monotonic() + _CLOCK_POLICY.total_timeout
        sent_at = self.runtime.wall_time()
        # Within the calling request's deadline, but outside the retry budget: the
        # measurement neither spends retry tokens nor earns them, and is never repaired.
        response = await self._request(
            time_request,
            policy=_CLOCK_POLICY,
            deadline=deadline,
            budget=RetryBudget.unlimited(),
            repair=False,
        )
        received_at = self.runtime.wall_time()
        server_time = self.signer.parse_server_time(response)
        self.clock.observe_server_time(server_time, sent_at=sent_at, received_at=received_at)
        return self.clock.offset

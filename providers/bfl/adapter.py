"""HTTP I/O for the BFL API: submit, poll the returned ``polling_url``, download the result.

All mapping lives in :mod:`providers.bfl.translate` and :mod:`providers.bfl.errors`; this module
sends the requests and paces the polling, as Black Forest Labs' API documentation describes
them (our notes, compiled 2026-10).

* **Polling** uses ``polling_url`` exactly as BFL returned it (it names the cluster that took
  the task; a rebuilt URL can answer ``Task not found``), with ``?id=`` appended only when it
  has none. It must point at the base URL's origin (scheme, host and port) or an https
  ``*.bfl.ai`` host; ``x-key`` goes only to the base URL's origin and to ``api*.bfl.ai`` over
  https on port 443.
* **Pacing**: the first poll right after submit, then every ``poll_interval`` growing ×1.5 up
  to ``max_poll_interval``; transient poll failures (429, 408/409, 5xx, a refused connection,
  a connection that broke mid-answer) are retried up to ``max_poll_errors`` (10) times in a
  row, about 20 s of backoff (§4: "a poll is not a new generation"; the task is billed
  already); a poll 404 or other 4xx, or a whole answer that cannot be read, is not. The
  whole submit-to-result wait is bounded by the context's read timeout (the gateway's upstream
  timeout): the last wait is cut to end at the deadline, one last poll is made there, and then
  it is UpstreamTimeout.
  Unknown in-progress statuses keep the polling going, and so does an HTTP 202 (§4: "Treat
  202 as pending") unless its body names a status the adapter knows.
* **Result**: ``result.sample`` is downloaded at once (it expires after 10 minutes) with
  :func:`providers._http.download`, from ``*.bfl.ai`` (or the base URL's origin) and never with
  our key: a signed delivery URL needs none.
* **Charge on failure**: every failure after BFL accepted the task carries the ``cost`` BFL
  stated at submit as its ``charge`` (billing at the stated cost is our choice: BFL does not
  say whether failed tasks are billed).
* **Cancellation**: closing the generator (the client went away) stops at the next
  suspension point; no further request is made. BFL has no cancel endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

import httpx

from providers._http import DEFAULT_TIMEOUT, UrlPolicy, download, read_body, transport_errors
from providers.bfl.errors import error_from_response, is_transient, status_error
from providers.bfl.translate import (
    READY,
    Submitted,
    build_submit,
    completed,
    parse_pending,
    parse_result,
    parse_submit,
    sample_url,
)
from providers.bfl.wire import ResultResponse
from providers.errors import (
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
    UpstreamTimeout,
)
from providers.spec import Accepted, GenerateCall, GenerationEvent, Progress, Usage

# Error and poll bodies are small; cap what we read so a misbehaving server cannot make us
# buffer gigabytes.
_MAX_SMALL_BODY = 1024 * 1024
DELIVERY_HOSTS = ("*.bfl.ai", "bfldeliveryprod.blob.core.windows.net")  # §1: older results
API_HOSTS = ("*.bfl.ai",)  # where a polling_url may point (the base URL's origin always may)
KEY_HOSTS = ("api*.bfl.ai",)  # which of them get x-key (§4: the API clusters only)
DEFAULT_DEADLINE_S = 300.0
LAST_POLL_S = 1.0  # read timeout floor of a poll; a poll at the deadline may overrun by this


class _Deadline:
    """The overall submit-to-result budget, on an injectable monotonic clock."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    @property
    def remaining(self) -> float:
        return self._end - self._clock()

    def timeout(self, base: httpx.Timeout) -> httpx.Timeout:
        """``base`` with its read timeout cut to what is left of the budget, but never below
        :data:`LAST_POLL_S`: the poll made at the deadline still gets its answer."""
        read = min(base.read or self.seconds, max(self.remaining, LAST_POLL_S))
        return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


def _retry_poll(error: ProviderError) -> bool:
    """Is a failed poll worth another try on the same task? A 429, 408/409/5xx or lost
    connection (:func:`is_transient`), or a connection that broke mid-answer (a transport
    :class:`ProtocolError`); not an answer that arrived whole and cannot be read."""
    if isinstance(error, ProtocolError):
        return isinstance(error.__cause__, httpx.HTTPError)
    return is_transient(error)


class BflAdapter:
    """:class:`providers.spec.ImageAdapter` for ``POST /v1/<model>`` + polling + download."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = "https://api.bfl.ai/v1",
        provider: str = "black-forest-labs",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        poll_interval: float = 0.5,
        max_poll_interval: float = 3.0,
        max_poll_errors: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        self._key = {"x-key": api_key} if api_key else {}
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._max_poll_errors = max_poll_errors
        self._clock = clock
        self._sleep = sleep
        self._poll_policy = UrlPolicy(self._base_url, hosts=API_HOSTS, key_hosts=KEY_HOSTS)
        self._download_policy = UrlPolicy(self._base_url, hosts=DELIVERY_HOSTS)

    def __repr__(self) -> str:  # never show the key
        return f"BflAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted(task id)``, ``Progress(status)`` on each status change, then
        one ``Completed``. Every failure is a ``ProviderError`` carrying the task id."""
        deadline = _Deadline(self._timeout.read or DEFAULT_DEADLINE_S, self._clock)
        task_id: str | None = None
        charge: Usage | None = None
        try:
            request = build_submit(call)
            submitted = await self._submit(request.path, request.json)
            task_id = submitted.id
            # BFL states its charge at submit: a caller that leaves now is settled at it, and
            # the polling stops at once.
            if submitted.cost_usd is not None:
                charge = Usage(images=call.n, provider_cost_usd=submitted.cost_usd)
            yield Accepted(task_id, charge)
            answer: ResultResponse | None = None
            async with aclosing(self._poll(submitted, deadline)) as polls:
                async for event in polls:
                    if isinstance(event, Progress):
                        yield event
                    else:
                        answer = event
            assert answer is not None  # _poll ends with the Ready answer or raises
            data, content_type = await download(
                self._client,
                sample_url(answer, base_url=self._base_url, provider=self.provider),
                self._download_policy,
                provider=self.provider,
                http_timeout=self._timeout,
            )
            yield completed(data, content_type, call, submitted, provider=self.provider)
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            if exc.upstream_request_id is None:
                exc.upstream_request_id = task_id
            # Whether BFL bills a task that then fails (moderated, Error/Failed, never Ready in
            # time, result not downloadable) is not documented; it states the cost when it
            # takes the task, so we take the honest default that a submitted task is billed at
            # that stated cost whatever becomes of it. Failures before the submit was accepted
            # carry no charge (``charge`` is still None then).
            if exc.charge is None:
                exc.charge = charge
            raise

    async def _submit(self, path: str, body: dict[str, object]) -> Submitted:
        headers = {**self._key, "accept": "application/json"}
        with transport_errors(self.provider):
            async with self._client.stream(
                "POST", self._base_url + path, headers=headers, json=body, timeout=self._timeout
            ) as response:
                if not 200 <= response.status_code < 300:
                    raise error_from_response(
                        response.status_code,
                        await read_body(response, limit=_MAX_SMALL_BODY),
                        response.headers,
                        provider=self.provider,
                        secrets=self._secrets,
                        what="submit",
                    )
                raw = await read_body(response, limit=_MAX_SMALL_BODY)
        return parse_submit(raw, base_url=self._base_url, provider=self.provider)

    async def _poll(
        self, submitted: Submitted, deadline: _Deadline
    ) -> AsyncGenerator[Progress | ResultResponse, None]:
        """Poll until Ready: Progress on each new status, then the Ready answer itself."""
        url = self._poll_policy.check(submitted.polling_url, provider=self.provider)
        headers = {**(self._key if self._poll_policy.sends_key(url) else {})}
        headers["accept"] = "application/json"
        delay, errors, last = self._poll_interval, 0, None
        while True:
            wait = delay
            try:
                answer = await self._poll_once(url, headers, deadline, submitted.id)
                errors = 0
            except UpstreamTimeout:
                raise
            except (RateLimited, Unavailable, ProtocolError) as exc:  # a poll is not a new task
                errors += 1
                if errors > self._max_poll_errors or not _retry_poll(exc):
                    raise
                wait = max(delay, exc.retry_after or 0)
            else:
                if answer.status != last:
                    last = answer.status
                    yield Progress(answer.status)
                failure = status_error(
                    answer, provider=self.provider, task_id=submitted.id, secrets=self._secrets
                )
                if failure is not None:
                    raise failure
                if answer.status == READY:
                    yield answer
                    return
            if deadline.remaining <= 0:  # the last poll happened at the deadline
                raise UpstreamTimeout(
                    f"BFL task {submitted.id} not ready after {deadline.seconds:g} s "
                    f"(last status: {last or 'none'})",
                    provider=self.provider,
                )
            await self._sleep(max(0.0, min(wait, deadline.remaining)))
            delay = min(delay * 1.5, self._max_poll_interval)

    async def _poll_once(
        self, url: httpx.URL, headers: dict[str, str], deadline: _Deadline, task_id: str
    ) -> ResultResponse:
        """One GET of the polling URL; 200 carries the answer, 202 is "still pending" unless
        its body names a known status (:func:`parse_pending`)."""
        with transport_errors(self.provider):
            async with self._client.stream(
                "GET", url, headers=headers, timeout=deadline.timeout(self._timeout)
            ) as response:
                body = await read_body(response, limit=_MAX_SMALL_BODY)
        if response.status_code not in (200, 202):
            raise error_from_response(
                response.status_code,
                body,
                response.headers,
                provider=self.provider,
                secrets=self._secrets,
                upstream_id=task_id,
                what="poll",
            )
        if response.status_code == 202:  # §4: "Treat 202 as pending", whatever its body says
            return parse_pending(body, provider=self.provider)
        return parse_result(body, provider=self.provider)

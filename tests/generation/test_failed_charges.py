"""What a call the provider announced a charge for, and which then failed billed, adds up to.

BFL states each task's cost when it takes it (``Accepted.charge``); a task that then fails
carries the same charge on its error. The executor counts it once: in ``failed_cost``, no
longer in ``known_charge`` (which settles a client that leaves while other calls still run).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import Any

from app.catalog import load_catalog
from app.generation.normalize import normalize
from app.generation.request import ImageGenerationRequest
from app.generation.service import Executor
from providers.errors import ContentModerated
from providers.spec import Accepted, GenerationEvent, Usage

CHARGE = Usage(images=1, provider_cost_usd=Decimal("0.03"))


async def _accepted() -> AsyncGenerator[GenerationEvent, None]:
    yield Accepted("task", CHARGE)


async def test_a_failed_call_moves_its_announced_charge_to_the_failed_cost() -> None:
    model = load_catalog().get("black-forest-labs/flux.2-pro")
    assert model is not None
    endpoint = model.endpoints[0]
    norm = normalize(ImageGenerationRequest(model=model.id, prompt="x"), endpoint)
    executor = Executor(state=None, plan=None)  # type: ignore[arg-type]
    for token in ("a", "b"):  # two tasks, each announced at 3 credits
        relayed: list[Any] = [e async for e in executor._relay(endpoint, _accepted(), token)]
        assert relayed == []
    assert executor.known_charge == CHARGE + CHARGE

    executor._call_failed(endpoint, norm, "a", ContentModerated("moderated", charge=CHARGE))
    assert executor.failed_cost == Decimal("0.03")
    assert executor.known_charge == CHARGE  # only the task still running

    executor._call_failed(endpoint, norm, "b", ContentModerated("moderated"))  # no charge
    assert executor.failed_cost == Decimal("0.03") and executor.known_charge == CHARGE


class _RecordingBudget:
    limited = True

    def __init__(self) -> None:
        self.covered: list[Decimal] = []

    async def cover(self, quote: Decimal) -> None:
        self.covered.append(quote)


class _TwoEndpointPlan:
    def __init__(self, budget: _RecordingBudget) -> None:
        self.budget = budget
        self.quotes = [Decimal("0.06"), Decimal("0.04")]

    def quote_for(self, index: int) -> Decimal:
        return self.quotes[index]


async def test_a_fallback_holds_what_the_failed_attempt_was_billed_beside_the_next_quote() -> None:
    # The first endpoint's call failed retryably after its provider billed it (a BFL task that
    # ended in Error): the request will cost that charge plus the next endpoint's, so the
    # re-quote holds both, or a key could spend past its limit on a fallback.
    budget = _RecordingBudget()
    executor = Executor(state=None, plan=_TwoEndpointPlan(budget))  # type: ignore[arg-type]
    executor.failed_cost = Decimal("0.03")
    assert await executor._requote(1)
    assert budget.covered == [Decimal("0.07")]

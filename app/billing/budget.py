"""One request's credit: reserve its quote before spending, re-quote on fallback.

Keys without a limit (and the master key) never touch the database here: nothing to reserve.
For a limited key, :meth:`Budget.cover` holds the quote of the endpoint about to be called
(replacing the previous attempt's hold, so fallback re-quotes); the ledger write settles the
hold at the actual cost, or releases it when nothing was spent.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from app.auth import Principal
from app.db import credit
from app.errors import GatewayError
from app.state import AppState


def usd(value: Decimal) -> str:
    """A USD amount for messages: at least cents, up to the exact figure."""
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


class Budget:
    """The credit hold of one generation (its id is the hold's id)."""

    def __init__(self, state: AppState, principal: Principal, hold_id: str) -> None:
        self.state = state
        self.principal = principal
        self.hold_id = hold_id
        self.held: Decimal | None = None  # the amount currently held, once a hold is taken

    @property
    def limited(self) -> bool:
        return self.principal.key_id is not None and self.principal.limit_usd is not None

    async def cover(self, quote: Decimal) -> credit.Balance | None:
        """Hold ``quote``; None when held (or no limit applies), else the key's balance."""
        if not self.limited:
            return None
        key_id = self.principal.key_id
        assert key_id is not None
        settings = self.state.settings
        ttl = timedelta(seconds=2 * settings.upstream_timeout_s + settings.disconnect_drain_s + 600)
        async with self.state.sessionmaker() as session:
            taken, balance = await credit.hold_in_transaction(
                session, key_id, self.hold_id, quote, ttl=ttl, lock=self.state.money_lock
            )
        if not taken:
            return balance
        self.held = quote
        return None

    def insufficient(self, balance: credit.Balance, quote: Decimal) -> GatewayError:
        """402 naming the remaining credit and the quote."""
        remaining = balance.remaining if balance.remaining is not None else Decimal(0)
        limit = balance.limit if balance.limit is not None else Decimal(0)
        return GatewayError(
            402,
            f"Insufficient credits: this key has {usd(remaining)} left of its {usd(limit)} "
            f"limit ({usd(balance.held)} held by requests in flight), and this request may "
            f"cost up to {usd(quote)}",
            metadata={
                "limit_remaining": str(remaining),
                "quote": str(quote),
                "held": str(balance.held),
            },
        )


__all__ = ["Budget", "usd"]

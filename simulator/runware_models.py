"""The Runware models the simulator knows: Sourceful's Riverflow AIRs, their sizes and prices.

Facts from Runware's and Sourceful's documentation (our notes, 2026-11: ids, per-family
fields, sizes, prices). Where they are silent the simulator picks a value and says so ([INF] below);
each such choice lives here, in one place:

* Riverflow 2.5 Pro: sizes as 2.5 Fast plus 4K = 4x (the reference's own [INF]); prices are
  unknown, so 2.0 Pro's ($0.15 at 1K/2K, $0.33 at 4K) at every thinking level.
* Riverflow 2.5 Fast at 2K: unknown; twice the 1K price, as 2.0 Fast doubles.
* Previews: priced per image at the reference's 1024x1024 figure whatever the size; 10 reference
  images like 2.0 Pro; 2.0's request fields (``providerSettings.sourceful``, refSR).
* Without width/height or ``resolution`` a 2.0/2.5 model answers 1024x1024; ``resolution`` alone
  gives the square size of that tier.
* Latency factor per 2.5 ``thinkingLevel``: low 0.5, medium 1, high 2, xhigh 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Family = Literal["2.0", "2.5", "preview"]

# §3.3: the 1K sizes; 2K and 4K are exactly 2x and 4x each side.
RIVERFLOW_2_1K: tuple[tuple[int, int], ...] = (
    (1024, 1024),  # 1:1
    (1152, 864),  # 4:3
    (864, 1152),  # 3:4
    (1280, 720),  # 16:9
    (720, 1280),  # 9:16
    (1248, 832),  # 3:2
    (832, 1248),  # 2:3
    (1120, 896),  # 5:4
    (896, 1120),  # 4:5
    (1512, 648),  # 7:3
)
PREVIEW_1K = tuple(s for s in RIVERFLOW_2_1K if s not in ((1120, 896), (896, 1120)))
RIVERFLOW_25_1K: tuple[tuple[int, int], ...] = (
    (1024, 1024),  # 1:1
    (1344, 576),  # 21:9
    (1024, 576),  # 16:9
    (1152, 768),  # 3:2
    (1024, 768),  # 4:3
    (960, 768),  # 5:4
    (768, 960),  # 4:5
    (768, 1024),  # 3:4
    (768, 1152),  # 2:3
    (576, 1024),  # 9:16
)
TIER_SCALE = {"1K": 1, "2K": 2, "4K": 4}
THINKING_LATENCY = {"low": 0.5, "medium": 1.0, "high": 2.0, "xhigh": 4.0}
DEFAULT_THINKING = "medium"  # [3P]


def _tiers(base: tuple[tuple[int, int], ...], tiers: tuple[str, ...]) -> dict[str, frozenset[str]]:
    return {
        tier: frozenset(f"{w * TIER_SCALE[tier]}x{h * TIER_SCALE[tier]}" for w, h in base)
        for tier in tiers
    }


@dataclass(frozen=True)
class RunwareModel:
    """One AIR: what it accepts and what one image costs."""

    air: str
    family: Family
    pro: bool
    sizes: dict[str, frozenset[str]]  # tier -> "WxH" sizes
    max_references: int
    # USD per image: by tier, or by (tier, thinking level) for 2.5.
    prices: dict[str, Decimal] = field(default_factory=dict)
    thinking_prices: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    @property
    def needs_size(self) -> bool:
        """width/height are required on the preview (and 1.x) AIRs (§3.1)."""
        return self.family == "preview"

    @property
    def takes_resolution(self) -> bool:
        return self.family in ("2.0", "2.5")

    @property
    def thinking_levels(self) -> tuple[str, ...]:
        if self.family != "2.5":
            return ()
        return ("low", "medium", "high", "xhigh") if self.pro else ("low", "medium", "high")

    def tier_of(self, width: int, height: int) -> str | None:
        key = f"{width}x{height}"
        return next((tier for tier, sizes in self.sizes.items() if key in sizes), None)

    def all_sizes(self) -> list[str]:
        """Every accepted ``WxH``, smallest first."""
        pairs = {tuple(map(int, s.split("x"))) for sizes in self.sizes.values() for s in sizes}
        return [f"{w}x{h}" for w, h in sorted(pairs, key=lambda p: (p[0] * p[1], p[0]))]

    def price(self, tier: str, thinking: str | None) -> Decimal:
        level = thinking or DEFAULT_THINKING
        return self.thinking_prices.get((tier, level)) or self.prices[tier]


def _fast_25_prices() -> dict[tuple[str, str], Decimal]:
    base = {"low": Decimal("0.021"), "medium": Decimal("0.022"), "high": Decimal("0.025")}
    prices = {("1K", level): cost for level, cost in base.items()}
    prices.update({("2K", level): cost * 2 for level, cost in base.items()})  # [INF]
    return prices


PRO_PRICES = {"1K": Decimal("0.15"), "2K": Decimal("0.15"), "4K": Decimal("0.33")}
MODELS: dict[str, RunwareModel] = {
    m.air: m
    for m in (
        RunwareModel(
            "sourceful:riverflow-2.0@fast",
            "2.0",
            pro=False,
            sizes=_tiers(RIVERFLOW_2_1K, ("1K", "2K")),
            max_references=4,
            prices={"1K": Decimal("0.02"), "2K": Decimal("0.04")},
        ),
        RunwareModel(
            "sourceful:riverflow-2.0@pro",
            "2.0",
            pro=True,
            sizes=_tiers(RIVERFLOW_2_1K, ("1K", "2K", "4K")),
            max_references=10,
            prices=PRO_PRICES,
        ),
        RunwareModel(
            "sourceful:riverflow-2.5@fast",
            "2.5",
            pro=False,
            sizes=_tiers(RIVERFLOW_25_1K, ("1K", "2K")),
            max_references=4,
            thinking_prices=_fast_25_prices(),
        ),
        RunwareModel(
            "sourceful:riverflow-2.5@pro",
            "2.5",
            pro=True,
            sizes=_tiers(RIVERFLOW_25_1K, ("1K", "2K", "4K")),
            max_references=10,
            prices=PRO_PRICES,  # [INF] unknown upstream
        ),
        *(
            RunwareModel(
                air,
                "preview",
                pro=False,
                sizes=_tiers(PREVIEW_1K, ("1K", "2K", "4K")),
                max_references=10,
                prices=dict.fromkeys(("1K", "2K", "4K"), Decimal(cost)),
            )
            for air, cost in (
                ("sourceful:2@1", "0.02945"),
                ("sourceful:2@2", "0.02525"),
                ("sourceful:2@3", "0.06358"),
            )
        ),
    )
}

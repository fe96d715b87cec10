"""Results of an attempt's calls merged into one: images in order, usage summed, the first
upstream id, every warning. One call's result is taken as it is: the same as merging it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.generation.service import _merge
from providers.spec import Completed, GeneratedImage, Usage


def _result(tag: str, cost: Decimal | None, upstream: str | None) -> Completed:
    return Completed(
        images=(GeneratedImage(f"{tag}AAAA", "image/png", 64, 64),),
        usage=Usage(images=1, pixels=4096, output_image_tokens=272, provider_cost_usd=cost),
        upstream_id=upstream,
        warnings=(f"{tag} warned",),
    )


def _folded(results: list[Completed]) -> tuple[object, ...]:
    usage = Usage()
    for r in results:
        usage = usage + r.usage
    return (
        tuple(i for r in results for i in r.images),
        usage,
        next((r.upstream_id for r in results if r.upstream_id), None),
        tuple(w for r in results for w in r.warnings),
    )


@pytest.mark.parametrize("cost", [None, Decimal("0.0123"), Decimal("1E+2")])
@pytest.mark.parametrize("upstream", [None, "", "req_1"])
def test_one_result_merges_to_itself(cost: Decimal | None, upstream: str | None) -> None:
    result = _result("a", cost, upstream)
    assert _merge([result]) == _folded([result])


def test_results_are_summed_in_order() -> None:
    results = [_result("a", None, None), _result("b", Decimal("0.02"), "req_2")]
    merged = _merge(results)
    assert merged == _folded(results)
    assert merged[1].images == 2 and merged[1].provider_cost_usd == Decimal("0.02")
    assert merged[2] == "req_2" and merged[3] == ("a warned", "b warned")

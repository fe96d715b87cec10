"""Streaming through the official SDK (reference §5): partials, completed, truncation, errors."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from tests.simulator.conftest import LiveSim, decode, png


def _events(stream: Any) -> list[Any]:
    return list(stream)


def test_partials_then_completed_with_partial_tokens(client: openai.OpenAI, sim: LiveSim) -> None:
    stream = client.images.generate(
        model="gpt-image-1.5",
        prompt="a red fox, flat vector",
        size="1024x1024",
        quality="low",
        stream=True,
        partial_images=2,
    )
    events = _events(stream)
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    for event in events:
        img = decode(event.b64_json)
        assert (img.format, img.size) == ("PNG", (1024, 1024))
    done = events[-1]
    assert (done.size, done.quality, done.output_format) == ("1024x1024", "low", "png")
    assert done.usage.output_tokens == 272 + 2 * 100
    assert done.usage.input_tokens == 12
    assert done.usage.total_tokens == 12 + 472
    assert sim.state.log.count == 1


def test_events_are_flushed_one_by_one(make_client: Any, sim: LiveSim) -> None:
    sim.state.knobs.partial_delay_s = 0.1
    stream = make_client().images.generate(
        model="gpt-image-1-mini", prompt="slow", stream=True, partial_images=2, quality="low"
    )
    arrivals = [(event.type, time.monotonic()) for event in stream]
    assert arrivals[-1][0] == "image_generation.completed"
    # Buffered output would deliver every event at once; flushed output spaces them out.
    assert arrivals[-1][1] - arrivals[0][1] >= 0.15


def test_stream_echoes_requested_auto_values(client: openai.OpenAI) -> None:
    events = _events(client.images.generate(model="gpt-image-2", prompt="auto", stream=True))
    assert [e.type for e in events] == ["image_generation.completed"]
    assert (events[0].size, events[0].quality, events[0].background) == ("auto", "auto", "auto")
    assert decode(events[0].b64_json).size == (1024, 1024)


def test_n_images_stream_one_completed_each(client: openai.OpenAI) -> None:
    events = _events(
        client.images.generate(
            model="gpt-image-1.5", prompt="two", n=2, stream=True, partial_images=1, quality="low"
        )
    )
    assert [e.type.rsplit(".", 1)[1] for e in events] == [
        "partial_image",
        "completed",
        "partial_image",
        "completed",
    ]
    first, second = events[1], events[3]
    assert first.usage.output_tokens == second.usage.output_tokens == 272 + 100
    assert first.usage.input_tokens > 0 and second.usage.input_tokens == 0
    assert decode(first.b64_json).tobytes() != decode(second.b64_json).tobytes()


def test_streaming_edit_uses_image_edit_events(client: openai.OpenAI) -> None:
    events = _events(
        client.images.edit(
            model="gpt-image-1.5",
            prompt="paint it",
            image=("a.png", png(256, 256), "image/png"),
            stream=True,
            partial_images=1,
            output_format="webp",
        )
    )
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert events[-1].usage.input_tokens_details.image_tokens > 0
    assert decode(events[-1].b64_json).format == "WEBP"


def test_images_directive_streams_fewer_completed_events(client: openai.OpenAI) -> None:
    """``[sim:images=K]``: K of n images, then a clean end (the §11 open question's other
    reading); the SDK sees a normal stream."""
    events = _events(
        client.images.generate(
            model="gpt-image-1.5",
            prompt="three [sim:images=1]",
            n=3,
            stream=True,
            partial_images=1,
            quality="low",
        )
    )
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert events[-1].usage.output_tokens == 272 + 100 and events[-1].usage.input_tokens > 0


@pytest.mark.parametrize("arg", ["0", "4", "x", ""])
def test_images_directive_needs_1_to_n(client: openai.OpenAI, arg: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model="gpt-image-1.5", prompt=f"p [sim:images={arg}]", n=3)
    assert err.value.code == "invalid_sim_directive"


@pytest.mark.parametrize("how", ["knob", "directive"])
def test_truncated_stream_ends_without_completed(
    client: openai.OpenAI, sim: LiveSim, how: str
) -> None:
    prompt = "cut short"
    if how == "knob":
        sim.state.knobs.truncate_stream = True
    else:
        prompt += " [sim:truncate]"
    events = _events(
        client.images.generate(model="gpt-image-1.5", prompt=prompt, stream=True, partial_images=2)
    )
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2


def test_output_moderation_arrives_as_an_error_event(client: openai.OpenAI) -> None:
    stream = client.images.generate(
        model="gpt-image-1.5", prompt="x [sim:moderate=output]", stream=True, partial_images=1
    )
    received = []
    with pytest.raises(openai.APIError) as err:
        for event in stream:
            received.append(event.type)
    assert received == ["image_generation.partial_image"]
    assert (err.value.code, err.value.type) == ("moderation_blocked", "image_generation_user_error")


def test_input_moderation_is_a_400_before_streaming(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model="gpt-image-1.5", prompt="forbidden fruit", stream=True)
    assert err.value.code == "moderation_blocked"

"""The one contract between the gateway (``app/``) and the provider adapters.

Two halves live here:

* **Catalog data types** — what a ``providers/<slug>/models.toml`` file declares: typed
  capability descriptors exactly as OpenRouter shows them, geometry rules the normalizer uses,
  and pricing lines with exact decimal prices.
* **The adapter protocol** — :class:`ImageAdapter` turns one :class:`GenerateCall` into an
  async stream of :class:`GenerationEvent` objects, or raises a
  :class:`providers.errors.ProviderError`.

Nothing in this module does I/O; ``app`` imports it, adapters import it, it imports neither.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

# --------------------------------------------------------------------------------------------
# Capability descriptors (OpenRouter's CapabilityDescriptor, discriminated on ``type``)
# --------------------------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EnumDescriptor(_Frozen):
    """A discrete allowlist of string values."""

    type: Literal["enum"] = "enum"
    values: tuple[str, ...] = Field(min_length=1)


class RangeDescriptor(_Frozen):
    """Any integer in ``[min, max]``; for ``input_references`` it bounds the count."""

    type: Literal["range"] = "range"
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> RangeDescriptor:
        if self.min > self.max:
            raise ValueError(f"range min {self.min} is above max {self.max}")
        return self


class BooleanDescriptor(_Frozen):
    """The parameter is supported; an absent key means unsupported."""

    type: Literal["boolean"] = "boolean"


Descriptor = Annotated[
    EnumDescriptor | RangeDescriptor | BooleanDescriptor, Field(discriminator="type")
]

# Public request fields a descriptor may describe. Keys outside this set are a catalog error.
DESCRIBED_PARAMETERS = frozenset(
    {
        "resolution",
        "aspect_ratio",
        "size",
        "n",
        "quality",
        "output_format",
        "output_compression",
        "background",
        "seed",
        "input_references",
    }
)

# --------------------------------------------------------------------------------------------
# Geometry: how an endpoint expresses the output size
# --------------------------------------------------------------------------------------------


class FixedSizes(_Frozen):
    """The endpoint accepts only these exact ``WxH`` sizes (e.g. GPT Image 1.x, Recraft)."""

    mode: Literal["sizes"] = "sizes"
    sizes: tuple[str, ...] = Field(min_length=1)
    # The size string to send upstream for each WxH, when the provider wants another spelling
    # (Recraft accepts "16:9" for every family). Missing entries send the WxH itself.
    wire: dict[str, str] = Field(default_factory=dict)
    # Other WxH a caller may ask for, each served as the listed size it names (Recraft maps
    # OpenAI's 1792x1024 to its own 16:9 size); the answer warns which size was made.
    aliases: dict[str, str] = Field(default_factory=dict)


class FreePixels(_Frozen):
    """Any ``WxH`` within bounds (GPT Image 2.x, FLUX.2, Seedream)."""

    mode: Literal["pixels"] = "pixels"
    multiple: int = Field(default=16, ge=1)
    min_edge: int = Field(default=64, ge=1)
    max_edge: int = Field(default=4096, ge=1)
    min_pixels: int = Field(default=0, ge=0)
    max_pixels: int = Field(ge=1)
    max_ratio: Decimal = Field(default=Decimal(16), gt=0)  # long edge / short edge
    # Megapixels targeted for each resolution tier; the default tier is used when none is given.
    tier_megapixels: dict[str, Decimal] = Field(default_factory=dict)
    default_tier: str = "1K"
    # The multiple a caller's own WxH must keep when the provider documents a looser rule than
    # the one the gateway rounds its derived sizes to (MAI: 768x1365 is Microsoft's own example,
    # derived sizes stay multiples of 16). None: ``multiple``.
    explicit_multiple: int | None = Field(default=None, ge=1)


class RatioTier(_Frozen):
    """An aspect ratio plus, optionally, a resolution tier (Gemini, xAI, Kontext)."""

    mode: Literal["ratio"] = "ratio"
    # The wire spelling of each public tier, e.g. {"1K": "1k"} for xAI; empty: no tier knob.
    tiers: dict[str, str] = Field(default_factory=dict)
    default_ratio: str | None = None
    # A caller's WxH takes the nearest allowed ratio however far off (with a warning), instead
    # of a 400 when no ratio is within 1 % (xAI: "anything else → nearest ratio").
    nearest_ratio: bool = False
    # The tier of a caller's WxH by pixel count: the highest tier whose threshold (megapixels)
    # it exceeds, else the smallest tier (xAI: "> ~1.5 MP → 2k"). Empty: nearest by long edge.
    tier_above_megapixels: dict[str, Decimal] = Field(default_factory=dict)


Geometry = Annotated[FixedSizes | FreePixels | RatioTier, Field(discriminator="mode")]

# --------------------------------------------------------------------------------------------
# Pricing lines
# --------------------------------------------------------------------------------------------

Billable = Literal["output_image", "input_image", "input_reference", "input_text", "output_text"]
Unit = Literal["request", "image", "megapixel", "token"]


# Typo bounds (an exponent such as "4e999999" made the first quote overflow, or compute for a
# minute): at most $10,000 a unit, at most ten million tokens in one budget line.
MAX_UNIT_PRICE_USD = Decimal(10_000)
MAX_BUDGET_TOKENS = 10_000_000


class PricingLine(_Frozen):
    """One billable line: ``cost_usd`` per ``unit`` of ``billable``.

    ``when`` restricts the line to calls whose normalized parameters match (e.g.
    ``{"resolution": "4K"}`` or ``{"quality": "high"}``); ``variant`` is the public label
    OpenRouter shows for such tiers. Megapixels are counted per image and rounded up when
    ``round_up`` is set (BFL's rule). ``pixels_per_megapixel`` says how many pixels one billed
    megapixel holds: 1,000,000 by default; BFL bills 1024x1024 as one megapixel (1,048,576).
    """

    billable: Billable
    unit: Unit
    cost_usd: Decimal = Field(ge=0, le=MAX_UNIT_PRICE_USD)
    variant: str | None = None
    when: dict[str, str] = Field(default_factory=dict)
    round_up: bool = False
    pixels_per_megapixel: int = Field(default=1_000_000, ge=1)
    source: str = Field(min_length=1)
    as_of: date


MEGAPIXEL = 2**20  # the megapixel of token budgets (``output_image_tokens_per_mp``)


class TokenBudget(_Frozen):
    """The most tokens one image can use, for quoting a token-priced endpoint before a call.

    The first budget whose ``when`` matches the call's pricing parameters applies (list the
    conditioned ones first and end with an unconditioned default). Output image tokens are
    either flat per image or per megapixel of output (``2**20`` pixels), rounded up.
    """

    when: dict[str, str] = Field(default_factory=dict)
    output_image_tokens: int | None = Field(default=None, ge=0, le=MAX_BUDGET_TOKENS)  # per image
    output_image_tokens_per_mp: Decimal | None = Field(default=None, ge=0, le=MAX_BUDGET_TOKENS)
    # per image: captions, thinking
    output_text_tokens: int = Field(default=0, ge=0, le=MAX_BUDGET_TOKENS)
    input_image_tokens: int = Field(default=0, ge=0, le=MAX_BUDGET_TOKENS)  # per reference image
    # per streamed partial image
    partial_image_tokens: int = Field(default=0, ge=0, le=MAX_BUDGET_TOKENS)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_output_rule(self) -> TokenBudget:
        if (self.output_image_tokens is None) == (self.output_image_tokens_per_mp is None):
            raise ValueError("set exactly one of output_image_tokens, output_image_tokens_per_mp")
        return self

    def applies(self, params: Mapping[str, str | None]) -> bool:
        """Whether every ``when`` condition holds for these pricing parameters."""
        return all(params.get(k) == v for k, v in self.when.items())

    def image_tokens(self, pixels: int) -> int:
        """Output image tokens of one image of ``pixels`` (flat, or per megapixel rounded up)."""
        if self.output_image_tokens is not None:
            return self.output_image_tokens
        assert self.output_image_tokens_per_mp is not None
        return math.ceil(self.output_image_tokens_per_mp * pixels / MEGAPIXEL)


# --------------------------------------------------------------------------------------------
# Catalog: models and endpoints
# --------------------------------------------------------------------------------------------


class EndpointSpec(_Frozen):
    """One provider serving one model: what it accepts, how it sizes, what it costs."""

    provider_slug: str
    provider_name: str
    adapter: str  # which adapter implementation speaks to it ("openai", "google", ...)
    upstream_model: str
    base_url: str | None = None  # None: the provider's configured base URL
    # For operator-added endpoints: the environment variable holding their API key.
    api_key_env: str | None = None
    parameters: dict[str, Descriptor]
    geometry: Geometry
    max_images_per_call: int = Field(ge=1, le=10)
    # An upstream cap on reference images + generated images in one call (Seedream: 15). The
    # gateway shrinks each call's batch to fit it (never below one image). None: no such cap.
    max_images_with_references: int | None = Field(default=None, ge=2)
    supports_streaming: bool = False
    passthrough: tuple[str, ...] = ()
    # Takes an inpainting mask with its references (OpenAI's edits ``mask``); a request with a
    # mask goes only to endpoints that say so.
    accepts_mask: bool = False
    # Fixed upstream parameters the adapter must send for this endpoint (e.g. a Recraft style).
    fixed: dict[str, Any] = Field(default_factory=dict)
    # The provider's own value of a described parameter the caller leaves unset (e.g. xAI's
    # quality "medium"), so a tiered pricing line (``when``) still matches; never sent upstream.
    defaults: dict[str, str] = Field(default_factory=dict)
    pricing: tuple[PricingLine, ...] = Field(min_length=1)
    # Concurrency caps the provider enforces on our account (e.g. BFL: 24 active tasks per key,
    # 6 for Kontext Max). ``concurrency_limit`` bounds calls to this endpoint alone;
    # ``account_concurrency_limit`` bounds calls to every endpoint of this provider slug
    # together (they share one key). None: no cap. The gateway enforces both, across processes.
    concurrency_limit: int | None = Field(default=None, ge=1)
    account_concurrency_limit: int | None = Field(default=None, ge=1)
    # For quotes: token maxima of token-priced endpoints, and the largest output an endpoint
    # makes when the request does not fix the pixels (ratio geometry priced per megapixel).
    token_budgets: tuple[TokenBudget, ...] = ()

    def token_budget(self, params: Mapping[str, str | None]) -> TokenBudget | None:
        """The first token budget whose ``when`` matches ``params``."""
        return next((b for b in self.token_budgets if b.applies(params)), None)

    max_output_pixels: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _known_parameters(self) -> EndpointSpec:
        unknown = set(self.parameters) - DESCRIBED_PARAMETERS
        if unknown:
            raise ValueError(f"unknown parameter descriptors: {sorted(unknown)}")
        return self

    @property
    def max_references(self) -> int:
        ref = self.parameters.get("input_references")
        return ref.max if isinstance(ref, RangeDescriptor) else 0


class ModelSpec(_Frozen):
    """A public model (``author/slug``) and the endpoints that serve it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    name: str
    description: str = ""
    created: date
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("image",)
    endpoints: tuple[EndpointSpec, ...] = Field(min_length=1)


# --------------------------------------------------------------------------------------------
# The call an adapter receives
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputImage:
    """A reference image already fetched and checked by the gateway."""

    data: bytes
    media_type: str  # image/png, image/jpeg, image/webp, ...


@dataclass(frozen=True, slots=True)
class GenerateCall:
    """Everything an adapter needs for one upstream call, already normalized.

    ``width``/``height`` are the concrete pixels (None when the provider only takes a ratio and
    tier); ``size_wire`` is the size spelling to send when the endpoint has fixed sizes.
    """

    endpoint: EndpointSpec
    prompt: str
    n: int = 1
    width: int | None = None
    height: int | None = None
    size_wire: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None  # public tier ("1K", "2K", ...)
    resolution_wire: str | None = None  # provider spelling of the tier
    quality: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    background: str | None = None
    seed: int | None = None
    input_images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None  # applies to the first input image (accepts_mask endpoints)
    options: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    request_id: str = ""
    user: str | None = None


# --------------------------------------------------------------------------------------------
# Events an adapter yields
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """Facts only: prices live in the catalog and are applied by ``app/billing``."""

    images: int = 0
    pixels: int = 0  # total output pixels across images
    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    output_text_tokens: int = 0
    input_images: int = 0
    input_pixels: int = 0
    provider_cost_usd: Decimal | None = None  # what the provider itself reported, if it does

    def __add__(self, other: Usage) -> Usage:
        cost: Decimal | None
        if self.provider_cost_usd is None and other.provider_cost_usd is None:
            cost = None
        else:
            cost = (self.provider_cost_usd or Decimal(0)) + (other.provider_cost_usd or Decimal(0))
        return Usage(
            images=self.images + other.images,
            pixels=self.pixels + other.pixels,
            input_text_tokens=self.input_text_tokens + other.input_text_tokens,
            input_image_tokens=self.input_image_tokens + other.input_image_tokens,
            output_image_tokens=self.output_image_tokens + other.output_image_tokens,
            output_text_tokens=self.output_text_tokens + other.output_text_tokens,
            input_images=self.input_images + other.input_images,
            input_pixels=self.input_pixels + other.input_pixels,
            provider_cost_usd=cost,
        )


class B64Pieces:
    """Base64 text kept in the pieces it arrived in off the socket, never joined: a large image
    lifted out of a buffered answer (``providers._http.lift_b64_pieces``) and relayed as the
    same buffers. Each piece is ASCII base64 text without a quote or backslash.

    Deliberately not a dataclass: orjson serializes dataclasses itself, field by field, and
    would never hand this to the renderer's ``default`` that splices the pieces in.
    """

    __slots__ = ("pieces",)

    def __init__(self, pieces: tuple[bytes, ...]) -> None:
        self.pieces = pieces

    def __eq__(self, other: object) -> bool:
        return isinstance(other, B64Pieces) and other.pieces == self.pieces

    def __hash__(self) -> int:
        return hash(self.pieces)

    def __repr__(self) -> str:
        return f"B64Pieces({len(self.pieces)} pieces, {len(self)} bytes)"

    def __len__(self) -> int:
        return sum(len(p) for p in self.pieces)

    def prefix(self, size: int) -> bytes:
        """The first ``size`` bytes (fewer if the text is shorter)."""
        out = bytearray()
        for piece in self.pieces:
            if len(out) >= size:
                break
            out += piece[: size - len(out)]
        return bytes(out)

    def joined(self) -> bytes:
        return b"".join(self.pieces)


# Base64 text of an image as relayed: ``str`` when parsed from JSON, ``bytes`` when lifted
# out of a large answer without decoding (``providers._http.lift_b64``), ``B64Pieces`` when
# lifted out of a buffered answer without even joining it.
B64Text = str | bytes | B64Pieces


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """A finished image. ``b64`` is relayed as the provider sent it whenever possible (see
    :data:`B64Text`)."""

    b64: B64Text
    media_type: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the job. ``charge``: what it will bill, when it says so up front
    (BFL's ``cost`` at submit), so a client leaving early can be settled at once."""

    upstream_id: str | None
    charge: Usage | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    status: str


class FlowBroken(Exception):
    """The provider's stream failed while a :class:`B64Flow` was being relayed."""


class B64Flow:
    """The base64 text of an image that is still arriving: a large partial image relayed
    cut-through, each piece passed on as it comes off the provider's socket.

    The adapter reading the provider's stream calls :meth:`feed` with each piece, then
    :meth:`end` (or :meth:`fail`), and never waits for the reader: pieces queue here without
    bound (one image's text at most, as when it is read whole), so a response that stops
    reading or never starts cannot stall the generation. The response iterates
    :meth:`chunks` once, or calls :meth:`discard` when it will not. Every piece is ASCII
    base64 text without a quote, backslash or line break, so it can be written inside a JSON
    string as it is. ``head`` is what had arrived when the flow began (at least the start of
    the image, enough to tell its format).
    """

    __slots__ = ("_chunks", "_dropped", "_ended", "_error", "_wake", "head", "size")

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.size = len(head)
        self._chunks: deque[bytes] = deque((head,))
        self._ended = False
        self._error: BaseException | None = None
        self._dropped = False
        self._wake = asyncio.Event()

    @property
    def ended(self) -> bool:
        return self._ended

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if chunk and not self._dropped:
            self._chunks.append(chunk)
            self._wake.set()

    def end(self) -> None:
        self._ended = True
        self._wake.set()

    def fail(self, exc: BaseException) -> None:
        if not self._ended:
            self._error = exc
            self.end()

    def discard(self) -> None:
        """Nobody will read this flow: drop what has arrived and what will."""
        self._dropped = True
        self._chunks.clear()

    def joined(self) -> bytes:
        """The whole text of an ended flow that nobody has read (tests, fallbacks)."""
        if not self._ended or self._error is not None:
            raise FlowBroken("the flow has not ended well")
        return b"".join(self._chunks)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The pieces in order, as they arrive; :class:`FlowBroken` if the stream failed."""
        while True:
            while self._chunks:
                yield self._chunks.popleft()
            if self._ended:
                if self._error is not None:
                    raise FlowBroken(str(self._error) or type(self._error).__name__)
                return
            self._wake.clear()
            await self._wake.wait()

    def __repr__(self) -> str:
        return f"B64Flow(size={self.size}, ended={self._ended})"


@dataclass(frozen=True, slots=True)
class PartialImage:
    index: int
    # as GeneratedImage.b64, or a B64Flow when a large partial is relayed while it arrives
    b64: B64Text | B64Flow
    media_type: str = "image/png"


@dataclass(frozen=True, slots=True)
class Completed:
    images: tuple[GeneratedImage, ...]
    usage: Usage
    upstream_id: str | None = None
    warnings: tuple[str, ...] = ()
    # Text the model returned beside its images (Gemini's caption), shown by chat completions.
    text: str = ""


GenerationEvent = Accepted | Progress | PartialImage | Completed


class ImageAdapter(Protocol):
    """Speaks one provider's HTTP API.

    Implementations get their httpx client, credentials and base URL through the constructor
    and never read the environment.
    """

    provider: str

    def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Run one upstream call; yield events ending with exactly one :class:`Completed`.

        Raises a :class:`providers.errors.ProviderError` subclass on any upstream failure.
        Closing the iterator early must cancel the upstream work.
        """
        ...

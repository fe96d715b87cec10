"""Recraft model table for the simulator: sizes (§2.4), prices (§5), styles (§2.1, §2.3).

Pure data. Choices where the reference is unsure are marked "Choice" and kept here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# --------------------------------------------------------------------------------------------
# Sizes (reference §2.4): aspect alias -> WxH, per family
# --------------------------------------------------------------------------------------------

V3_SIZES: dict[str, str] = {
    "1:1": "1024x1024",
    "2:1": "2048x1024",
    "1:2": "1024x2048",
    "3:2": "1536x1024",
    "2:3": "1024x1536",
    "4:3": "1365x1024",
    "3:4": "1024x1365",
    "5:4": "1280x1024",
    "4:5": "1024x1280",
    "6:10": "1024x1707",
    "14:10": "1434x1024",
    "10:14": "1024x1434",
    "16:9": "1820x1024",
    "9:16": "1024x1820",
}
V3_EXTRA = ("1707x1024",)  # V3 also has 1707x1024, without an aspect alias [SPEC]

V4_SIZES: dict[str, str] = {
    "1:1": "1024x1024",
    "2:1": "1536x768",
    "1:2": "768x1536",
    "3:2": "1280x832",
    "2:3": "832x1280",
    "4:3": "1216x896",
    "3:4": "896x1216",
    "5:4": "1152x896",
    "4:5": "896x1152",
    "6:10": "832x1344",
    "14:10": "1280x896",
    "10:14": "896x1280",
    "16:9": "1344x768",
    "9:16": "768x1344",
}

PRO_SIZES: dict[str, str] = {
    "1:1": "2048x2048",
    "2:1": "3072x1536",
    "1:2": "1536x3072",
    "3:2": "2560x1664",
    "2:3": "1664x2560",
    "4:3": "2432x1792",
    "3:4": "1792x2432",
    "5:4": "2304x1792",
    "4:5": "1792x2304",
    "6:10": "1664x2688",
    "14:10": "2560x1792",
    "10:14": "1792x2560",
    "16:9": "2688x1536",
    "9:16": "1536x2688",
}

# --------------------------------------------------------------------------------------------
# Styles (V2/V3 only, reference §2.1; ImageStyle/ImageSubStyle enums of the OpenAPI snapshot)
# --------------------------------------------------------------------------------------------

VECTOR_STYLES = frozenset({"vector_illustration", "icon"})
RASTER_STYLES = frozenset({"realistic_image", "digital_illustration", "logo_raster"})
STYLES = frozenset({"any"}) | VECTOR_STYLES | RASTER_STYLES

# Choice: which substyle belongs to which style is not in the reference (ComfyUI keeps such a
# table); this split follows Recraft's public style list, restricted to the snapshot's enum.
SUBSTYLES: dict[str, frozenset[str]] = {
    "realistic_image": frozenset(
        [
            "b_and_w",
            "enterprise",
            "evening_light",
            "faded_nostalgia",
            "forest_life",
            "hard_flash",
            "hdr",
            "motion_blur",
            "mystic_naturalism",
            "natural_light",
            "natural_tones",
            "organic_calm",
            "real_life_glow",
            "retro_realism",
            "retro_snapshot",
            "studio_portrait",
            "urban_drama",
            "village_realism",
            "warm_folk",
        ]
    ),
    "digital_illustration": frozenset(
        [
            "2d_art_poster",
            "2d_art_poster_2",
            "antiquarian",
            "bold_fantasy",
            "child_book",
            "cover",
            "crosshatch",
            "digital_engraving",
            "engraving_color",
            "expressionism",
            "freehand_details",
            "grain",
            "grain_20",
            "graphic_intensity",
            "hand_drawn",
            "hand_drawn_outline",
            "handmade_3d",
            "hard_comics",
            "infantile_sketch",
            "long_shadow",
            "modern_folk",
            "multicolor",
            "neon_calm",
            "noir",
            "nostalgic_pastel",
            "outline_details",
            "pastel_gradient",
            "pastel_sketch",
            "pixel_art",
            "plastic",
            "pop_art",
            "pop_renaissance",
            "seamless",
            "street_art",
            "tablet_sketch",
            "urban_glow",
            "urban_sketching",
            "voxel",
            "watercolor",
            "young_adult_book",
            "young_adult_book_2",
            "3d",
            "80s",
            "glow",
            "kawaii",
            "psychedelic",
        ]
    ),
    "vector_illustration": frozenset(
        [
            "bold_stroke",
            "chemistry",
            "colored_stencil",
            "cosmics",
            "cutout",
            "depressive",
            "editorial",
            "emotional_flat",
            "engraving",
            "line_art",
            "line_circuit",
            "linocut",
            "marker_outline",
            "mosaic",
            "naivector",
            "roundish_flat",
            "seamless",
            "segmented_colors",
            "sharp_contrast",
            "thin",
            "vector_photo",
            "vivid_shapes",
            "cartoon",
            "doodle_line_art",
            "flat_2",
        ]
    ),
    "icon": frozenset(
        [
            "broken_line",
            "colored_outline",
            "colored_shapes",
            "colored_shapes_gradient",
            "doodle_fill",
            "doodle_offset_fill",
            "offset_fill",
            "outline",
            "outline_gradient",
            "pictogram",
        ]
    ),
    "logo_raster": frozenset(
        ["emblem_graffiti", "emblem_pop_art", "emblem_punk", "emblem_stamp", "emblem_vintage"]
    ),
    "any": frozenset(),
}

# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRules:
    """What one Recraft model id accepts and what one image of it costs (API units)."""

    id: str
    sizes: dict[str, str]
    units: int  # per image (§5; 1 000 units = $1)
    vector: bool  # output is SVG
    max_prompt: int = 10_000  # §2.1: 10 000 for V4.x, 1 000 for V2/V3
    styles: bool = False  # style / substyle / negative_prompt (V2/V3 only, §2.1, §6.4)
    text_layout: bool = False  # V3 text placement
    controls: bool = True  # Choice: every model but Flash ("no styles") takes controls
    style_id_required: bool = False  # recraftv4_styles* (§2.1)
    forced_raster: bool = False  # *_raster aliases: vector styles are refused
    image_to_image: bool = False  # Choice: i2i is priced for V3 only (§5); V2/V3 take it
    vector_units: int = 0  # V2/V3 raster ids answering SVG for a vector style (§6.1)

    @property
    def extra_sizes(self) -> tuple[str, ...]:
        return V3_EXTRA if self.sizes is V3_SIZES else ()


def _family(base: ModelRules, vector_units: int) -> list[ModelRules]:
    """``base``, ``base_raster`` and ``base_vector`` of one family."""
    return [
        base,
        replace(base, id=f"{base.id}_raster", forced_raster=True, vector_units=0),
        replace(base, id=f"{base.id}_vector", units=vector_units, vector=True, vector_units=0),
    ]


def _v23(model_id: str, raster: int, vector: int, *, text_layout: bool) -> ModelRules:
    return ModelRules(
        model_id,
        V3_SIZES,
        raster,
        False,
        max_prompt=1_000,
        styles=True,
        text_layout=text_layout,
        image_to_image=True,
        vector_units=vector,
    )


def _v4(model_id: str, sizes: dict[str, str], units: int, **kw: bool) -> ModelRules:
    return ModelRules(model_id, sizes, units, False, **kw)


# Choice: V4.1 (Utility) vector and V4 Styles prices are not in the reference (§8); they use
# the V4 vector prices (80 / 300 units), V4 Styles the V4 prices.
_RULES = [
    *_family(_v23("recraftv2", 22, 44, text_layout=False), 44),
    *_family(_v23("recraftv3", 40, 80, text_layout=True), 80),
    *_family(_v4("recraftv4", V4_SIZES, 40), 80),
    *_family(_v4("recraftv4_pro", PRO_SIZES, 250), 300),
    *_family(_v4("recraftv4_1", V4_SIZES, 35), 80),
    *_family(_v4("recraftv4_1_pro", PRO_SIZES, 210), 300),
    *_family(_v4("recraftv4_1_utility", V4_SIZES, 35), 80),
    *_family(_v4("recraftv4_1_utility_pro", PRO_SIZES, 210), 300),
    *_family(_v4("recraftv4_styles", V4_SIZES, 40, style_id_required=True), 80),
    *_family(_v4("recraftv4_styles_pro", PRO_SIZES, 250, style_id_required=True), 300),
    # "about $0.007" (§5): 7 units; no styles, and (Choice) no controls either.
    _v4("recraftv4_1_flash", V4_SIZES, 7, controls=False),
]

MODELS: dict[str, ModelRules] = {rules.id: rules for rules in _RULES}

DEFAULT_MODEL = "recraftv4_1"  # docs: the default when `model` is omitted (§2.1)
DEFAULT_VECTOR_MODEL = "recraftv4_1_vector"
VECTORIZE_UNITS = 10  # §5 vectorization, per request

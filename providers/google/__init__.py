"""Google Gemini image models ("Nano Banana") on the Gemini API (Google AI Studio keys)."""

from providers.google.adapter import GoogleAdapter

__all__ = ["GoogleAdapter"]

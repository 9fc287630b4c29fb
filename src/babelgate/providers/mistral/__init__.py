"""Mistral's chat completions API: OpenAI-like, but not OpenAI (translated, never passed through)."""

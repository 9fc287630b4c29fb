"""Legacy OpenAI completions (`/v1/completions`), on two roads.

The native road: a provider whose upstream serves `/completions` for the model (an OpenAI-compatible
server, as its profile or `options.completions` says) gets the request as it is, with only `model`
rewritten, and its answer is relayed (routes.py). The translated road: every other model answers
each prompt as a single-turn chat (translate.py), and the chat answers and chunks fold back into
`text_completion` objects (translate.py, stream.py). docs/completions.md tells both from outside.
"""

from babelgate.frontends.openai_completions.routes import FRONTEND, ROUTES

__all__ = ["FRONTEND", "ROUTES"]

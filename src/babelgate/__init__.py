"""babelgate: an OpenAI-compatible LLM API gateway. Public API: create_app, Config, Hook."""

from babelgate.app import create_app
from babelgate.config.models import Config
from babelgate.hooks import Hook

__all__ = ["Config", "Hook", "create_app"]

"""Configuration: validated models, loading from YAML and the environment, reloading."""

from babelgate.config.load import ConfigError, load_config
from babelgate.config.models import Config, ModelConfig, ProviderConfig, ServerConfig

__all__ = ["Config", "ConfigError", "ModelConfig", "ProviderConfig", "ServerConfig", "load_config"]

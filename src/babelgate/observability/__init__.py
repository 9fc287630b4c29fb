"""Metrics, logging with secrets scrubbed, and request ids."""

"""Where logged exchanges also go: an OTLP collector (GenAI spans), Langfuse (its OTLP endpoint), a signed
webhook. Each is an ExchangeSink with its own bounded queue and task (delivery.py)."""

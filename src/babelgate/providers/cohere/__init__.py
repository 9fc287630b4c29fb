"""Cohere's own API, for its rerank models (`/v2/rerank`)."""

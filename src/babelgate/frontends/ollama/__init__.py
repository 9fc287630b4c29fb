"""The Ollama API frontend (`/api/chat`, `/api/generate`, `/api/embed`, `/api/tags`, …)."""

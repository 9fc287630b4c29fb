"""Files (`/v1/files`), OpenAI batches (`/v1/batches`) and Anthropic message batches (`/v1/messages/batches`)."""

"""The Anthropic Messages API frontend (`/v1/messages`, `/v1/messages/count_tokens`)."""

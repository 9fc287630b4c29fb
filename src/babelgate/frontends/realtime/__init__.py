"""OpenAI's Realtime API: the WebSocket door on `/v1/realtime` and `POST /v1/realtime/client_secrets`."""

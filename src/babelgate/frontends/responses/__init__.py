"""The OpenAI Responses API / Open Responses frontend (`/v1/responses`), over HTTP, SSE and WebSocket.

A create body folds onto the canonical chat request (translate.py), the answer and its stream
fold back into a response resource and its semantic events (stream.py); turn.py runs one
response for either transport, and the store keeps conversations for `previous_response_id`.
"""

"""The Gemini Live API's door (`BidiGenerateContent` over a WebSocket): its translation of Gemini Live's messages
to and from OpenAI's Realtime events (translate/), on top of the gateway's realtime sessions."""

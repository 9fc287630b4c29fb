"""Realtime sessions (OpenAI's Realtime API over a WebSocket): the session's loop and bounds, its roads to an
upstream (the relayed road; a road is an interface a translated road implements too), client secrets, and the
gateway's set of running sessions; and the translation between OpenAI's Realtime events and Gemini Live's
messages (gemini_live/). The door itself is a frontend (frontends/realtime/)."""

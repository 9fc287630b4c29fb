"""Realtime sessions (OpenAI's Realtime API over a WebSocket): the session's loop and bounds, its roads to an
upstream (the relayed road; a road is an interface a translated road can implement too), client secrets, and the
gateway's set of running sessions. The door itself is a frontend (frontends/realtime/)."""

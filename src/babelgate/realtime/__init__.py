"""Realtime (voice over WebSocket) sessions."""

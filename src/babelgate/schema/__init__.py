"""Canonical types shared by every frontend and provider (imports nothing else from babelgate)."""

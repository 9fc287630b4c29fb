"""Bedrock's Converse API as a frontend (routes.py), on every provider."""

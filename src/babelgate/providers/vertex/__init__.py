"""Google Vertex AI: Gemini, Claude and partner models on Google Cloud (`type: vertex`)."""

"""What clients speak: each frontend decodes requests into canonical ones and encodes answers."""

"""Claude's cloud doors as frontends: Bedrock's InvokeModel (bedrock.py) and Vertex AI's rawPredict (vertex.py),
each the Anthropic Messages frontend's codec in the cloud's envelope (envelope.py), serving every provider."""

"""OpenAI Chat Completions (`POST /v1/chat/completions`): its route (routes.py) and its stream encoder
(stream.py). Its request and response codec is OpenAI's chat wire codec, which the OpenAI provider shares
(providers/openai/translate.py)."""

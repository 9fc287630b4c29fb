"""OpenAI and every OpenAI-compatible server (Ollama, vLLM, llama.cpp, DeepSeek, Qwen, Groq…)."""

"""Google's Gemini API (Generative Language `generateContent`)."""

"""Run inside ADK's own venv (side_venv.py) by test_adk_agents.py: a Google ADK agent whose model is ADK's
`Gemini` class in Vertex mode (GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION come
from the environment the test gives it), pointed at the gateway's Vertex door by `base_url`, with a static OAuth
token (the gateway's key) for Google credentials and one Python function tool; run streamed (SSE:
:streamGenerateContent) and not (:generateContent). Arguments: the gateway's URL, its key, the model. Prints one
JSON line per run: the final answer, its author, and the cities the tool ran for."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from google.adk.agents import LlmAgent, RunConfig
from google.adk.agents.run_config import StreamingMode
from google.adk.models import Gemini
from google.adk.runners import InMemoryRunner
from google.genai import types
from google.oauth2.credentials import Credentials

URL, KEY, MODEL = sys.argv[1:4]
calls: list[str] = []


def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city's name.
    """
    calls.append(city)
    return f"21 degrees in {city}"


async def run(streaming: bool) -> dict[str, object]:
    calls.clear()
    model = Gemini(
        model=MODEL,
        base_url=URL,
        client_kwargs={
            # Named again though the environment has them: google-genai (2.x) with a base URL and the project
            # and location only from the environment takes the URL for a whole endpoint (an API gateway's) and
            # posts to it as it is, with neither the Vertex path nor the token.
            "project": os.environ["GOOGLE_CLOUD_PROJECT"],
            "location": os.environ["GOOGLE_CLOUD_LOCATION"],
            "credentials": Credentials(token=KEY),  # sent as `Authorization: Bearer <key>`, never refreshed
            "http_options": types.HttpOptions(timeout=30_000),  # milliseconds
        },
    )
    agent = LlmAgent(
        name="weather_agent", model=model, instruction="Answer with the weather tool.", tools=[get_weather]
    )
    runner = InMemoryRunner(agent=agent, app_name="babelgate-adk")
    session = await runner.session_service.create_session(app_name="babelgate-adk", user_id="user")
    config = RunConfig(streaming_mode=StreamingMode.SSE if streaming else StreamingMode.NONE)
    question = types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])
    answer, author = "", ""
    async for event in runner.run_async(user_id="user", session_id=session.id, new_message=question, run_config=config):
        if event.is_final_response() and event.content and event.content.parts:
            answer = "".join(part.text or "" for part in event.content.parts)
            author = event.author
    await runner.close()
    return {"streaming": streaming, "answer": answer.strip(), "author": author, "calls": list(calls)}


for streaming in (False, True):
    print(json.dumps(asyncio.run(asyncio.wait_for(run(streaming), 60))), flush=True)

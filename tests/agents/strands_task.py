"""Run inside Strands' own venv (side_venv.py) by test_strands_agents.py: a Strands agent whose model is
`BedrockModel` on the gateway's Converse door, with one tool, streamed (ConverseStream) and not (Converse).
Arguments: the gateway's URL, its key, the model. Prints one JSON line per run: the answer, the stop reason,
the usage and how many times the tool ran."""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
import botocore.config
from strands import Agent, tool
from strands.models import BedrockModel

URL, KEY, MODEL = sys.argv[1:4]
calls: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    calls.append(city)
    return f"21 degrees in {city}"


def add_key(request: Any, **_: Any) -> None:
    request.headers["x-api-key"] = KEY  # beside the SigV4 signature of keys the gateway cannot check


for streaming in (True, False):
    calls.clear()
    session = boto3.session.Session(
        aws_access_key_id="AKIAEXAMPLEKEY000006", aws_secret_access_key="unused", region_name="us-east-1"
    )
    config = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
    model = BedrockModel(
        model_id=MODEL, boto_session=session, endpoint_url=URL, boto_client_config=config, streaming=streaming
    )
    model.client.meta.events.register("before-sign.bedrock-runtime.*", add_key)
    result = Agent(model=model, tools=[get_weather], callback_handler=None)("Weather in Paris?")
    usage = dict(result.metrics.accumulated_usage)
    print(
        json.dumps(
            {
                "streaming": streaming,
                "answer": str(result).strip(),
                "stop": result.stop_reason,
                "usage": usage,
                "calls": list(calls),
            }
        )
    )

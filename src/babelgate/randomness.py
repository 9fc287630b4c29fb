"""The gateway's own random numbers (retry and backoff jitter, weighted deployment choice), drawn from an
instance of its own rather than the `random` module's shared one: an application that embeds the gateway
(`create_app`) and seeds `random` for itself keeps its sequence, and a property-based test framework in the
same process (Hypothesis checks that nothing draws from the shared instance while it generates an example)
is not disturbed by a gateway thread's jitter. Not for secrets: those come from `secrets`."""

from __future__ import annotations

import random
from typing import Final

RANDOM: Final = random.Random()  # jitter and weighted choices carry nothing of a gateway: one for the process

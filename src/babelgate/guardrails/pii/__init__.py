"""The built-in detectors of personal data and secrets (`pii` guardrails), by entity name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from babelgate.guardrails.findings import Detector
from babelgate.guardrails.pii.cards import CREDIT_CARD
from babelgate.guardrails.pii.contact import EMAIL, PHONE
from babelgate.guardrails.pii.identity import IBAN, SSN
from babelgate.guardrails.pii.network import IP
from babelgate.guardrails.pii.secrets import SECRET
from babelgate.guardrails.scanner import Scanner

ENTITIES: Final[Mapping[str, Detector]] = MappingProxyType(
    {
        "email": EMAIL,
        "phone": PHONE,
        "credit_card": CREDIT_CARD,
        "iban": IBAN,
        "ssn": SSN,
        "ip": IP,
        "secret": SECRET,
    }
)


def scanner(entities: Iterable[str]) -> Scanner:
    """One scanner for the named entities (each once)."""
    return Scanner(ENTITIES[name] for name in dict.fromkeys(entities))

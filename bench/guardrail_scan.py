"""The built-in PII detectors' cost per text (docs/guardrails.md, "Speed"): `timeit` over a few texts of about
2 KB, every entity, in µs per scan. Read beside `make bench`'s guarded path: this is the detectors alone.

    .venv/bin/python bench/guardrail_scan.py [--entities email,secret] [--number 2000]
"""

from __future__ import annotations

import argparse
import timeit

from babelgate.guardrails.pii import ENTITIES, scanner

PROSE = (
    "The quarterly review covers 12 projects across 3 regions. In 2024 the team shipped version 2.3.1 of the "
    "client, fixed 45 bugs and met on 15/01/2024 at 10:30. See https://example.com/docs/setup for details. "
)
CODE = "def handler(event):\n    return {'status': 200, 'items': [1, 2, 3], 'id': 'a3f9c2e1'}\n"
CHAT = "Note: the build at 10:42 failed; rerun with `make test` (exit 2). Price: $1,299.00 per seat, 30 days.\n"
FINDINGS = (
    "Write to ada@example.com or call +44 20 7946 0958. Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 "
    "0130 00, server 10.0.12.7, key sk-proj-A1b2C3d4E5f6G7h8I9j0A1b2C3d4E5f6G7h8I9j0. "
)
TEXTS = {
    "prose": (PROSE * 12)[:2048],
    "code": (CODE * 25)[:2048],
    "chat": (CHAT * 20)[:2048],
    "with findings": (PROSE * 8 + FINDINGS * 2)[:2048],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", default=",".join(ENTITIES))
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    found = scanner(args.entities.split(","))
    for name, text in TEXTS.items():
        seconds = min(timeit.repeat(lambda text=text: found.find(text), number=args.number, repeat=5))  # type: ignore[misc]
        print(f"{name:14} {len(text):5} chars  {seconds / args.number * 1e6:7.1f} µs  {len(found.find(text))} found")


if __name__ == "__main__":
    main()

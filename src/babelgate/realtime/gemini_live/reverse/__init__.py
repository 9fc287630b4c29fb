"""Placeholder."""


class LiveToOpenAI:
    pass

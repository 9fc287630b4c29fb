"""What the media fetcher (media.py) may reach and accept: apart from it, so that a provider can read its
options at start without loading aiohttp (~14 MiB), which the fetcher needs only once a request names a URL."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.providers.destinations import normalised_hosts


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    """What the fetcher may reach and accept; one per fetcher, read once.

    `allow_private_hosts` lists exact IP addresses (not names, not networks) that are reachable
    although they are not public: for tests (the loopback test server) and for operators who must
    reach one internal media host. Every other non-public address stays refused, so a redirect
    from an allowed host into, say, 169.254.169.254 is still refused. `allow_private` switches the
    address check off entirely and is meant for tests only.
    """

    allow_http: bool = False
    allow_private: bool = False
    max_bytes: int = 20 * 1024 * 1024
    timeout: float = 10.0
    max_redirects: int = 3
    allowed_types: tuple[str, ...] = ("image/", "application/pdf", "audio/", "video/", "text/")
    allow_private_hosts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.timeout <= 0 or self.max_redirects < 0:
            raise ValueError("max_bytes and timeout must be positive, max_redirects not negative")
        # Normalised, so "::1" and "0:0::1" name the same allowed host.
        object.__setattr__(self, "allow_private_hosts", normalised_hosts(self.allow_private_hosts))

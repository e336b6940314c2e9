"""Fetch a document over HTTP(S) for the command line: ``restore https://...``.

Only the ``http`` and ``https`` schemes, a time limit and a size limit: the command reads what
its user names, and nothing else fetches (the web server never does, so a request can never make
it reach into the network it runs in).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from restore.errors import InputError

MAX_BYTES = 20_000_000
TIMEOUT_S = 30.0
PAGE_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = "unspin (the restore command line)"


@dataclass(frozen=True)
class Fetched:
    """The body of ``url``, its media type and the charset its ``Content-Type`` names."""

    url: str
    data: bytes
    media_type: str
    charset: str | None

    @property
    def is_page(self) -> bool:
        return self.media_type in PAGE_TYPES


def is_url(name: str | None) -> bool:
    return name is not None and name.lower().startswith(("http://", "https://"))


def fetch(url: str, *, timeout_s: float = TIMEOUT_S, max_bytes: int = MAX_BYTES) -> Fetched:
    """GET ``url`` (redirects followed). Raises :class:`InputError` for another scheme, a
    failed request, an HTTP error status or a body over ``max_bytes``."""
    if not is_url(url):
        raise InputError(f"{url!r} is not an http:// or https:// address")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data = response.read(max_bytes + 1)
            headers = response.headers
    except (urllib.error.URLError, TimeoutError, ValueError, OSError) as err:
        raise InputError(f"cannot fetch {url}: {err}") from err
    if len(data) > max_bytes:
        raise InputError(f"{url} is larger than {max_bytes:,} bytes")
    return Fetched(url, data, headers.get_content_type(), headers.get_content_charset())

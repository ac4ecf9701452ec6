"""Where the broker is and how to talk TLS to it, for the unit and the collector alike."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from protocol.errors import BadInput


class BrokerUrlError(BadInput):
    """A broker URL that is not mqtt://… or mqtts://…"""


class TlsFilesError(BadInput):
    """A CA, certificate or key file that does not load."""


@dataclass(frozen=True)
class BrokerAddress:
    """`mqtt://host[:port]` (1883) or `mqtts://[user:pass@]host[:port]` (8883)."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str, what: str = "broker URL") -> BrokerAddress:
        """BrokerUrlError naming `what` (`mqtt.url`, `--broker`) when it is not one."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise BrokerUrlError(f"{what} {url!r}: {e}") from e
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BrokerUrlError(f"{what} {url!r} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def tls_context(ca: str = "", cert: str = "", key: str = "") -> ssl.SSLContext:
    """A client TLS context trusting `ca` (the system's CAs when empty) and presenting
    `cert`/`key` when given; TlsFilesError when a file does not load."""
    try:
        ctx = ssl.create_default_context(cafile=ca or None)
        if cert:
            ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as e:
        raise TlsFilesError(f"cannot load the TLS files ({e})") from e
    return ctx

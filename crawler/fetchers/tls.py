"""TLS for both fetchers: which certificates to trust, and telling a failed verification apart.

By default each HTTP client verifies servers against the system's CA store.
``ca_file`` replaces that store with the given PEM bundle (curl's ``--cacert``),
for sites signed by a private CA; ``verify_tls = false`` turns verification off.
"""

from __future__ import annotations

import ssl

from ..config import CrawlConfig
from ..errors import ErrorKind
from ..models import ErrorInfo
from .body import wrapped_errors

# The error kind of a server whose certificate did not verify (untrusted, expired,
# for another host). Unlike a reset handshake, another attempt would fail the same way.


def tls_context(config: CrawlConfig) -> ssl.SSLContext | None:
    """The SSL context config asks for, or None for the client's default (the system's CAs)."""
    if not config.verify_tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if config.ca_file is not None:
        return ssl.create_default_context(cafile=config.ca_file)
    return None


def certificate_error(exc: BaseException) -> ErrorInfo | None:
    """The tls error of a fetch whose server certificate failed verification, else None.

    aiohttp and urllib3 wrap the ssl module's error, so the whole chain is searched for it.
    """
    for error in wrapped_errors(exc):
        # aiohttp's wrapper is an SSLCertVerificationError too, without the reason.
        reason = getattr(error, "verify_message", None)
        if isinstance(error, ssl.SSLCertVerificationError) and reason:
            return ErrorInfo(ErrorKind.TLS, f"certificate verify failed: {reason}")
    return None

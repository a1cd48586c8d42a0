"""How a bearer secret (a session cookie, a patient's link, an API token, a patient's short code) is kept: only
its hash.

A stolen database copy then opens nothing. The tokens are random with 256 bits, so a plain hash (no salt, no
slow hash) is enough and lets the row be found by an index lookup. A short code has only 40 bits: its plain
SHA-256 would be reversed by trying every code (2^40 hashes, minutes on one graphics card), so it is kept as an
HMAC under the server's secret key instead, which a database copy alone cannot recompute.
"""

from __future__ import annotations

import hashlib
import hmac


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_token_hash(secret: str, token: str) -> str:
    """The stored form of a secret too short to be kept as a plain hash: its HMAC-SHA-256 under ``secret``, in hex."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()

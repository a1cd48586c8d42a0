"""How a bearer secret (a session cookie, a patient's link, an API token) is kept: only its SHA-256.

A stolen database copy then opens nothing. The tokens are random with 256 bits, so a plain hash (no salt, no
slow hash) is enough and lets the row be found by an index lookup.
"""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()

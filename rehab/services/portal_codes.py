"""The short code a patient types from their sheet instead of the long link (docs/security.md, "Short codes").

Eight symbols of Crockford's base32 (digits and capitals without I, L, O and U, which people misread), printed
in two groups like ``K7QM-3XPA``: 40 bits. What is typed is read kindly: any case, spaces and dashes ignored,
O read as 0 and I or L as 1. The code is derived, like the long link's token, from the link and a random salt
(``secrets``) under the server's secret key, so every sheet printed while the link lives can print it again;
the database keeps the salt and the code's keyed hash (``tokens.keyed_token_hash``), never the code. A code is
unique among every link ever made, so an old sheet's code can never open another patient's page.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import Session, select

from rehab.models import PortalLink
from rehab.services import throttling
from rehab.services.tokens import keyed_token_hash

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: 32 symbols, 5 bits each
LENGTH = 8  # 40 bits
BITS = 5 * LENGTH
GROUP = 4
# What people type for a symbol that is not in the alphabet but looks like one that is.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Spaces and every kind of dash or dot a phone keyboard offers between the two groups.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_.·]+")
# Failed code entries share the sign-in attempts table (every worker sees the same count) under this key.
THROTTLE_KEY = "portal-code"
MAX_TRIES = 8

Problem = Literal["empty", "length", "symbol"]
Throttled = Literal["address", "everyone"]


@dataclass(frozen=True)
class Typed:
    """What the patient typed, read as a code: ``code`` when it has the shape of one, else the ``problem``."""

    code: str | None
    problem: Problem | None = None
    symbols: int = 0  # how many symbols were typed (for "you typed 7")
    unknown: str = ""  # the first character that is in no code


def normalise(typed: str) -> Typed:
    """Read a typed code: upper case, separators dropped, O as 0, I and L as 1."""
    cleaned = _SEPARATORS.sub("", typed).upper().translate(_READ_AS)
    if not cleaned:
        return Typed(None, "empty")
    strange = next((char for char in cleaned if char not in ALPHABET), "")
    if strange:
        return Typed(None, "symbol", len(cleaned), strange)
    if len(cleaned) != LENGTH:
        return Typed(None, "length", len(cleaned))
    return Typed(cleaned, symbols=LENGTH)


def grouped(code: str) -> str:
    """The code as printed: ``K7QM3XPA`` → ``K7QM-3XPA``."""
    return "-".join(code[start:start + GROUP] for start in range(0, len(code), GROUP))


def encode(data: bytes) -> str:
    """The first 40 bits of ``data`` as eight symbols of the alphabet."""
    number = int.from_bytes(data[:BITS // 8], "big")
    return "".join(ALPHABET[(number >> shift) & 31] for shift in range(BITS - 5, -1, -5))


def derive(secret: str, *, link_id: int, salt: str) -> str:
    """A link's code: an HMAC of the link's id and its salt under the server's secret key (without the key the
    code cannot be told from random; with it, a sheet can print the code again)."""
    message = f"rehab-portal-code:{link_id}:{salt}".encode()
    return encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def code_hash(secret: str, code: str) -> str:
    """The stored form of a code (normalised, without its dash)."""
    return keyed_token_hash(secret, f"rehab-portal-code:{code}")


def new_salt() -> str:
    return secrets.token_hex(8)


class NoFreeCode(RuntimeError):
    """Every try gave a code already in use: with 2^40 codes that means the draw is broken, not bad luck."""


def assign(session: Session, *, link: PortalLink, secret: str, draw: Callable[[], str] = new_salt) -> str:
    """Give a new link its code, drawing another salt while the code is taken by any link (live or not).

    Returns the code. The unique index on ``code_hash`` backs the check up against two links made at once."""
    for _ in range(MAX_TRIES):
        salt = draw()
        code = derive(secret, link_id=link.id, salt=salt)
        digest = code_hash(secret, code)
        if session.exec(select(PortalLink.id).where(PortalLink.code_hash == digest)).first() is None:
            link.code_salt, link.code_hash = salt, digest
            session.add(link)
            session.flush()
            return code
    raise NoFreeCode(f"no free code in {MAX_TRIES} tries")


def code_of(secret: str, link: PortalLink) -> str | None:
    """The link's code, re-derived for a sheet or the share card; None for a link made before codes."""
    return derive(secret, link_id=link.id, salt=link.code_salt) if link.code_salt else None


def find(session: Session, *, secret: str, code: str) -> PortalLink | None:
    """The link with this (normalised) code, live or not: the caller checks whether it still opens."""
    return session.exec(select(PortalLink).where(PortalLink.code_hash == code_hash(secret, code))).first()


# ------------------------------------------------------------------------------------------------- throttling


@dataclass(frozen=True)
class CodeLimits:
    per_address: int  # wrong codes from one address in the window
    everyone: int  # wrong codes from all addresses together in the window
    window: timedelta


def throttled(session: Session, *, address: str, now: datetime, limits: CodeLimits) -> Throttled | None:
    """Whether code entry is paused for this address, or for everyone. While it is, no code is even looked up,
    a right one neither: a throttle that let right codes through would let guessing go on for ever."""
    if throttling.recent_failures(session, key=THROTTLE_KEY, now=now, window=limits.window,
                                  address=address) >= limits.per_address:
        return "address"
    if throttling.recent_failures(session, key=THROTTLE_KEY, now=now, window=limits.window) >= limits.everyone:
        return "everyone"
    return None


def record_wrong(session: Session, *, address: str, now: datetime) -> None:
    throttling.record_attempt(session, email="", address=address, device=None, succeeded=False, now=now,
                              key=THROTTLE_KEY)

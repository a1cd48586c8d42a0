"""The "known device" cookie: this browser signed in to these accounts before (OWASP's device cookies).

A signed, HttpOnly cookie that lists the accounts (as short hashes of their emails) that signed in from this
browser. ``rehab.services.throttling`` counts a known device's failures for that device alone, so nobody
can lock a therapist out of their usual browser by guessing wrong on purpose. It proves nothing else: the
password is still needed, and a copied cookie only earns its holder the device's own ten tries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from rehab.services.throttling import account_key, device_key

COOKIE = "rehab_device"
DAYS = 90
MAX_ACCOUNTS = 10  # a shared clinic computer remembers the last ten therapists who signed in on it
_SALT = "rehab.known-device"


@dataclass(frozen=True)
class KnownDevice:
    device_id: str
    key: str  # the device's failures for this account are counted under it


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def _read(cookie: str | None, secret: str) -> tuple[str, list[str]] | None:
    if not cookie or len(cookie) > 2000:
        return None
    try:
        data = _serializer(secret).loads(cookie, max_age=DAYS * 86_400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str) or not isinstance(data.get("a"), list):
        return None
    return data["d"], [item for item in data["a"] if isinstance(item, str)]


def _short(email: str) -> str:
    return account_key(email)[:32]


def device_for(cookie: str | None, email: str, *, secret: str) -> KnownDevice | None:
    """The known device, when this browser's cookie lists this account."""
    found = _read(cookie, secret)
    if found is None or _short(email) not in found[1]:
        return None
    return KnownDevice(device_id=found[0], key=device_key(found[0], email))


def remember(response: Response, cookie: str | None, email: str, *, secret: str, secure: bool) -> None:
    """After a successful sign-in: add the account to this browser's cookie (newest first)."""
    device_id, listed = _read(cookie, secret) or (secrets.token_urlsafe(16), [])
    listed = [_short(email)] + [item for item in listed if item != _short(email)]
    value = _serializer(secret).dumps({"d": device_id, "a": listed[:MAX_ACCOUNTS]})
    response.set_cookie(COOKIE, value, max_age=DAYS * 86_400, path="/login", secure=secure, httponly=True,
                        samesite="Lax")

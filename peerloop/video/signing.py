"""What the video adapters share to check a provider's signed callbacks: a header looked up
case-insensitively, and an HS256 JWT verified by hand (no JWT library for two providers' tokens)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def hs256_claims(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of ``token`` when it is an HS256 JWT signed with ``secret``; None otherwise.
    Expiry and the claims themselves are the caller's to check."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        head = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, TypeError):
        return None
    if not isinstance(head, dict) or head.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    return claims if hmac.compare_digest(expected, signature) else None

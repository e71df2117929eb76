"""Password hashing with argon2id; the cost comes from config so tests can lower it."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

# Passwords so common that no length makes them safe.
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password12",
        "password123",
        "password1234",
        "1234567890",
        "12345678910",
        "123456789a",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "admin12345",
        "abcdefghij",
        "1q2w3e4r5t",
        "0123456789",
        "peerloop123",
        "changeme123",
        "football123",
        "sunshine123",
        "trustno1234",
        "passw0rd123",
        "monkey12345",
        "dragon12345",
        "baseball123",
        "superman123",
    ]
)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128


def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=current_app.config["ARGON2_TIME_COST"],
        memory_cost=current_app.config["ARGON2_MEMORY_COST"],
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problem(password: str, *, email: str = "", handle: str = "") -> str | None:
    """Why the password is too weak, or None when it will do."""
    if not password:
        return "Choose a password."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        return "That password is too easy to guess. Try a short sentence."
    local_part = email.split("@")[0].lower()
    if (local_part and len(local_part) >= 4 and local_part in lowered) or (handle and handle.lower() in lowered):
        return "Don't use your email or handle in your password."
    return None

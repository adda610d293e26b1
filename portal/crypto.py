"""Encryption of stored secrets (Box app credentials, resellers' payment keys).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under ``FIELD_ENCRYPTION_KEY``;
locally the key is derived from ``SECRET_KEY``. Several keys may be given, comma-separated: the
first encrypts, all decrypt, which is how a key is rotated.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


def _fernet_key(raw: str) -> bytes:
    raw = raw.strip()
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32:
            return raw.encode()
    except (ValueError, TypeError):
        pass
    # Any other string is stretched into a key, so operators may use a long random passphrase.
    return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


@lru_cache(maxsize=4)
def _cipher(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys.split(",") if k.strip()])


def cipher() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEY or f"derived:{settings.SECRET_KEY}"
    return _cipher(keys)


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("A stored secret cannot be decrypted with the configured keys.") from None


class EncryptedTextField(models.TextField):
    """A text column holding ciphertext; Python code sees the clear value."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

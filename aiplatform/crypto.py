"""Secrets kept at rest (storage connections' secret keys), encrypted with Fernet.

Keys come from STORAGE_ENCRYPTION_KEYS (comma-separated Fernet keys, the first encrypts, all
decrypt, so a key can be rotated); without it one key is derived from SECRET_KEY, which then must
not change while such secrets exist."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from .storage import StorageError


class SecretUnreadable(StorageError):
    """A stored secret cannot be decrypted with the configured keys (a storage connection's, so
    the location it reaches cannot be reached: said as for any storage failure)."""


def _derived(secret_key: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"aiplatform.crypto:{secret_key}".encode()).digest()).decode()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_keys: tuple[str, ...]) -> MultiFernet:
    # Without keys of their own, secrets follow the signing key, and its fallbacks still decrypt
    # what was written before a rotation.
    return MultiFernet([Fernet(key) for key in keys or tuple(_derived(k) for k in secret_keys)])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.STORAGE_ENCRYPTION_KEYS),
                   (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def encrypt(plain: str) -> str:
    return _current().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted: the encryption keys changed.") from None

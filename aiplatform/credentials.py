"""Credentials kept on this machine's disk: the signing key (SECRET_KEY) and the demo operator's
password and API key, readable by their owner only (mode 0600). Nothing here reads Django's
settings: the settings module loads the signing key through it."""

import os
import secrets
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Keys that anyone can read in this repository's history or Django's templates: never accepted
# outside DEBUG, so that no running server signs with them.
PUBLISHED_KEYS = frozenset({"embedded-default-insecure-key-change-me-in-production"})


def write_private(path: Path, text: str) -> None:
    """Writes `text` to `path` readable and writable by its owner only, atomically: a reader (another
    process starting at the same time) sees the whole text or the file as it was, and the text is
    never on disk with a wider mode."""
    temporary = _private_temporary(path, text)
    try:
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _private_temporary(path: Path, text: str) -> Path:
    """A new file beside `path`, mode 0600 from its creation on, holding `text`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)
    return temporary


def read_private(path: Path) -> str:
    """The text of `path`, after taking away any permission its group or others had (where the
    file can be changed: a read-only mount, such as a Kubernetes Secret's, keeps its own mode)."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        try:
            path.chmod(0o600)
        except OSError:
            pass
    return path.read_text().strip()


def secret_key_problem(key: str) -> str | None:
    """Why `key` is no signing key for a server (Django's own test of a strong key, and published keys)."""
    if key in PUBLISHED_KEYS:
        return "is the development key published in this project's source"
    if key.startswith("django-insecure-"):
        return "is one of Django's generated development keys ('django-insecure-…')"
    if len(key) < 50 or len(set(key)) < 5:
        return "is too short (it needs at least 50 characters, at least 5 of them different)"
    return None


def load_secret_key(*, value: str, key_file: Path | None, generate: bool, debug: bool) -> str:
    """The signing key: `value` (the SECRET_KEY variable) when given, else the contents of
    `key_file`; when there is neither and `generate` is true (the embedded default), a new random
    key is written to `key_file` (mode 0600) and used by every process that starts after.
    Refuses (ImproperlyConfigured, naming the fix) a missing key and, unless `debug`, a weak one."""
    source = "SECRET_KEY"
    if not value:
        if key_file is None or not (key_file.exists() or generate):
            raise ImproperlyConfigured(
                "No signing key: set SECRET_KEY (e.g. to the output of `python -c \"import secrets; "
                "print(secrets.token_urlsafe(50))\"`) or SECRET_KEY_FILE to a file holding it. Every "
                "API and worker process must have the same key."
            )
        if not key_file.exists():
            _create_key_file(key_file)
        source = f"the key file {key_file}"
        value = read_private(key_file)
    problem = secret_key_problem(value)
    if problem and not debug:
        raise ImproperlyConfigured(
            f"The signing key from {source} {problem}. Anyone who knows a weak key forges download links, "
            "job tokens and sessions; set SECRET_KEY to a random value of 50 characters or more."
        )
    return value


def _create_key_file(key_file: Path) -> None:
    temporary = _private_temporary(key_file, secrets.token_urlsafe(50))
    try:
        # A hard link fails where the file exists: of processes starting together, the first
        # one's key wins and the others read it.
        os.link(temporary, key_file)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()

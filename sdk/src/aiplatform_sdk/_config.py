"""Where the client's settings come from: arguments, then the environment (AIP_BASE_URL,
AIP_API_KEY, AIP_WORKSPACE, AIP_GATEWAY_URL), then the file `aip login` writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
KEYS = ("base_url", "api_key", "workspace", "gateway_url")


def config_path() -> Path:
    """AIP_CONFIG_FILE, else aip/config.json under XDG_CONFIG_HOME (~/.config)."""
    if os.environ.get("AIP_CONFIG_FILE"):
        return Path(os.environ["AIP_CONFIG_FILE"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "aip" / "config.json"


def load_config(path: Path | None = None) -> dict[str, str]:
    path = path or config_path()
    try:
        values: Any = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in values.items() if k in KEYS and v} if isinstance(values, dict) else {}


def save_config(values: dict[str, str], path: Path | None = None) -> Path:
    """Writes the settings, readable by their owner only (the file holds an API key)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({k: v for k, v in values.items() if k in KEYS and v}, handle, indent=2)
    os.chmod(path, 0o600)
    return path


def setting(name: str, given: str | None, config: dict[str, str]) -> str | None:
    if given:
        return given
    return os.environ.get(f"AIP_{name.upper()}") or config.get(name) or None

"""`aip` as a shell user runs it, against the running platform: tables or JSON, login saved for later
commands, every command with --help, and one line and a distinct exit code for each kind of failure
(usage 2, API 1, unreachable 3, timeout 4), never a traceback."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datasets.models import Dataset
from tests.factories import WorkspaceFactory

from .conftest import answer

pytestmark = pytest.mark.django_db(transaction=True)
AIP = str(Path(sys.executable).parent / "aip")


def aip(*args: str, env: dict | None = None, config: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIP_")}
    done = subprocess.run([AIP, *args], env={**clean, "AIP_CONFIG_FILE": str(config), "COLUMNS": "200", **(env or {})},
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_login_then_tables_json_and_names(platform, tenant, tmp_path):
    config = tmp_path / "aip.json"
    logged = aip("login", "--base-url", platform.url, "--api-key", tenant.token, config=config)
    assert logged.returncode == 0, logged.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and json.loads(config.read_text())["api_key"] == tenant.token

    made = aip("--json", "datasets", "create", "news", "--type", "text_classification", "--label", "sport",
               config=config)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["labels"][0]["name"] == "sport"
    listed = aip("-o", "json", "datasets", "list", config=config)
    assert [d["name"] for d in json.loads(listed.stdout)] == ["news"]
    table = aip("workspaces", "list", config=config)
    assert table.returncode == 0 and tenant.workspace.name in table.stdout and "storage" in table.stdout
    manifest = tmp_path / "news.manifest"
    manifest.write_text("".join(json.dumps({"source": f"content://match {i}", "annotation": [
        {"name": "sport", "type": "modelarts/text_classification"}]}) + "\n" for i in range(3)))
    imported = aip("--json", "datasets", "import", "news", "--manifest", str(manifest), config=config)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["kind"] == "manifest"
    assert Dataset.objects.get(workspace=tenant.workspace, name="news").import_tasks.count() == 1
    pending = aip("--json", "workloads", "list", "--pending", config=config)
    assert pending.returncode == 0 and json.loads(pending.stdout) == []


def test_every_command_has_help(tmp_path):
    groups = ["workspaces", "datasets", "jobs", "models", "services", "pools", "workloads", "bills"]
    top = aip("--help", config=tmp_path / "c.json")
    assert top.returncode == 0 and all(group in top.stdout for group in groups)
    commands = {"datasets": ["create", "list", "import", "publish"], "jobs": ["create", "logs", "metrics", "wait"],
                "services": ["create", "plan", "chat"], "workloads": ["list"], "bills": ["download"]}
    for group, names in commands.items():
        for name in names:
            helped = aip(group, name, "--help", config=tmp_path / "c.json")
            assert helped.returncode == 0 and "Usage" in helped.stdout, (group, name, helped.stderr)


def test_failures_are_one_line_with_their_exit_code(platform, tenant, tmp_path, misbehaving):
    config = tmp_path / "aip.json"
    env = {"AIP_BASE_URL": platform.url, "AIP_API_KEY": tenant.token, "AIP_WORKSPACE": str(tenant.workspace.pk)}
    usage = aip("jobs", "create", "--pool", config=config, env=env)
    assert usage.returncode == 2 and "requires an argument" in usage.stderr
    missing = aip("jobs", "get", "00000000-0000-0000-0000-000000000000", config=config, env=env)
    assert missing.returncode == 1 and missing.stderr.startswith("error: 404") and "request sdk-" in missing.stderr
    other = aip("datasets", "list", config=config, env={**env, "AIP_WORKSPACE": str(WorkspaceFactory().pk)})
    assert other.returncode == 1 and "404" in other.stderr
    bad_key = aip("datasets", "list", config=config, env={**env, "AIP_API_KEY": "aip_nope_nope"})
    assert bad_key.returncode == 1 and "401" in bad_key.stderr
    no_key = aip("datasets", "list", config=config, env={"AIP_BASE_URL": platform.url})
    assert no_key.returncode == 2 and "aip login" in no_key.stderr
    down = misbehaving(answer(200, b"{}"))
    address = down.url
    down.close()
    unreachable = aip("datasets", "list", config=config, env={**env, "AIP_BASE_URL": address})
    assert unreachable.returncode == 3 and "Could not reach the platform" in unreachable.stderr

    def slow(handler, number):
        time.sleep(3)

    late = misbehaving(slow)
    timed_out = aip("--timeout", "0.5", "datasets", "list", config=config, env={**env, "AIP_BASE_URL": late.url})
    assert timed_out.returncode == 4 and "timed out" in timed_out.stderr
    for failed in (missing, other, bad_key, no_key, unreachable, timed_out):
        assert len(failed.stderr.strip().splitlines()) <= 3, failed.stderr  # one message (wrapped at most)

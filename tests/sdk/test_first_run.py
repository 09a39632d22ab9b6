"""The README's first run, as written there: its `aip` commands and then its Python, against a fresh
platform set up as `make run` sets it up (the demo account, the local pool, the training presets;
the API behind the gateway, a Celery worker with beat, the sandboxed local backend). The only
change made to the scripts is the platform's address. The gateway also answers the `openai`
package, pointed at a service's base URL."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from aiplatform_sdk import Client

from k8s.backend import clear_backend_cache, get_compute_backend

from .conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)
README_ADDRESS = "http://127.0.0.1:8000"
SCRIPT_SECONDS = 300


def first_run_blocks() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    blocks = dict(re.findall(r"```(\w+) first-run\n(.*?)```", readme, flags=re.S))
    assert set(blocks) == {"sh", "python"}, "README.md's first run lost its marked blocks"
    return blocks


def run(args: list[str], *, cwd: Path, env: dict, what: str, platform) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=SCRIPT_SECONDS)
    assert done.returncode == 0, f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{platform.logs()}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.fixture
def removes_replicas(platform_with_worker, settings):
    """Whatever the worker's local backend still runs at the end (a service the test started) goes."""
    yield
    settings.LOCAL_BACKEND_DIR = Path(platform_with_worker.env["LOCAL_BACKEND_DIR"])
    settings.COMPUTE_BACKEND = "local"
    clear_backend_cache()
    backend = get_compute_backend()
    for observation in backend.list_owned().values():
        backend.remove(observation)
    clear_backend_cache()


def test_the_readmes_first_run_with_the_cli_then_the_sdk(platform_with_worker, removes_replicas, tmp_path):
    platform = platform_with_worker
    for command in ("bootstrap_demo", "bootstrap_local_pool", "bootstrap_training_presets"):
        run([sys.executable, "manage.py", command], cwd=ROOT, env=platform.env, what=command, platform=platform)
    (tmp_path / "var").symlink_to(platform.var)  # the script reads var/demo-api-key.txt
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIP_")},
           "AIP_CONFIG_FILE": str(tmp_path / "aip.json"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    blocks = first_run_blocks()

    shell = blocks["sh"].replace(README_ADDRESS, platform.url)
    said = run(["bash", "-euo", "pipefail", "-c", shell], cwd=tmp_path, env=env, what="the aip first run",
               platform=platform)
    assert "done: accuracy" in said
    assert re.search(r"^sport$", said, flags=re.M), said[-2000:]

    # Importing the same manifest again adds nothing twice; the job's log follows through the gateway.
    again = run(["aip", "--json", "datasets", "import", "news", "--manifest", "news.manifest", "--wait"], cwd=tmp_path,
                env=env, what="the import run again", platform=platform)
    assert (json.loads(again)["added"], json.loads(again)["skipped"]) == (0, 12)
    client = Client(base_url=platform.url, api_key=(platform.var / "demo-api-key.txt").read_text().strip())
    demo = client.workspaces.list().first()
    job = client.training_jobs.list().first()
    followed = list(client.training_jobs.logs(job, follow=True))
    assert followed[-1].startswith("done: accuracy") and followed == client.training_jobs.logs(job)

    # The Python, in a second workspace of the demo account (the names are the same).
    second = client.workspaces.create(name="second")
    (tmp_path / "first_run.py").write_text(blocks["python"])
    said = run([sys.executable, "first_run.py"], cwd=tmp_path, env={**env, "AIP_WORKSPACE": second.id},
               what="the Python first run", platform=platform)
    assert said.rstrip().endswith("sport") and "done: accuracy" in said, said

    # Each workspace has what its run made, once; and the service answers OpenAI's own client.
    for workspace in (demo.id, second.id):
        scoped = client.with_options(workspace=workspace)
        assert [d.sample_count for d in scoped.datasets.list()] == [12]
        assert [j.phase for j in scoped.training_jobs.list()] == ["succeeded"]
    scoped = client.with_options(workspace=second.id)
    service = scoped.services.list().first()
    scoped.services.start(service)
    scoped.services.wait(service, timeout=120)
    # The gateway learns of the restarted instance within GATEWAY_ENDPOINTS_REFRESH_SECONDS: a 503
    # until then is retried, as OpenAI's client does.
    chat = openai.OpenAI(base_url=scoped.services.openai_base_url(service), api_key=client.api_key, max_retries=6)
    stream = chat.chat.completions.create(model="news", stream=True,
                                          messages=[{"role": "user", "content": "rain and wind tomorrow"}])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "weather"
    scoped.services.stop(service)

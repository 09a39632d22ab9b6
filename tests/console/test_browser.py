"""The console in a real browser: Debian's Chromium driven by Playwright against a platform set up as
`make run` sets it up (the demo seeding, the API behind the gateway, a Celery worker with beat, the
sandboxed local backend). One flow, as a tenant would go: sign in, create a dataset and import a
manifest watching the progress bar finish, label two samples and accept them, publish a version,
train the CPU preset watching the loss chart gain points, register and deploy what it trained and
get a streamed answer in the playground, see a pending reason in the queue, and download a bill.
Each main page is photographed into var/test-artifacts/console/ (not committed)."""

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from k8s.backend import clear_backend_cache, get_compute_backend
from tests.sdk.conftest import BIN, ROOT, start_platform, wait_until_up

pytestmark = pytest.mark.django_db(transaction=True)
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "var" / "test-artifacts" / "console"
UUID = "[0-9a-f-]{36}"
STEP_MS = 120_000  # the longest one step may take (a job's run, a service's start)


@pytest.fixture
def platform(django_db_setup, django_db_blocker, tmp_path_factory):
    """The platform with its static files collected, as `make run` has it: gunicorn is started again
    after collectstatic, since WhiteNoise lists the files it serves when it starts. One per test, so
    that its worker stops before the test's tables are emptied (beat's writes would deadlock that)."""
    started = start_platform(tmp_path_factory, worker=True)
    try:
        collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                                   env=started.env, capture_output=True, text=True, timeout=120)
        assert collected.returncode == 0, collected.stderr
        api, _ = started.processes[0]
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(timeout=30)
        port = started.api_url.rsplit(":", 1)[1]
        again = started.start("api-static", [str(BIN / "gunicorn"), "aiplatform.wsgi", "--bind", f"127.0.0.1:{port}",
                                             "--workers", "2", "--timeout", "120"], TRUSTED_PROXY_COUNT="1")
        wait_until_up(f"{started.api_url}/healthz", again, started.var / "api-static.log")
    except BaseException:
        started.stop()
        raise
    yield started
    started.stop()


@pytest.fixture
def demo(platform, settings):
    for command in (["bootstrap_demo"], ["bootstrap_local_pool"], ["bootstrap_training_presets"],
                    ["bootstrap_demo_billing"]):
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=platform.env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    yield {"password": (platform.var / "demo-password.txt").read_text().strip(),
           "key": (platform.var / "demo-api-key.txt").read_text().strip()}
    # What the worker's local backend still runs (the service) goes.
    settings.LOCAL_BACKEND_DIR = Path(platform.env["LOCAL_BACKEND_DIR"])
    settings.COMPUTE_BACKEND = "local"
    clear_backend_cache()
    backend = get_compute_backend()
    for observation in backend.list_owned().values():
        backend.remove(observation)
    clear_backend_cache()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def manifest(path: Path) -> Path:
    """Twelve text lines, ten labelled and two left for the annotators."""
    lines = []
    for i in range(12):
        label, text = ("sport", "the team won the match") if i % 2 else ("weather", "rain and wind tomorrow")
        line = {"source": f"content://{text} {i}"}
        if i < 10:
            line["annotation"] = [{"name": label, "type": "modelarts/text_classification"}]
        lines.append(json.dumps(line))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_tenant_does_the_first_run_in_the_browser(platform, demo, browser, tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Scripts that fail; answers in 4xx are the pages' to show (the memory plan of a model without
    # architecture facts, say), and the browser's own notes of them are not counted.
    page.on("console", lambda message: problems.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)

    def shot(name):
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    try:
        # Sign in.
        page.goto(f"{platform.url}/")
        page.get_by_label("User name").fill("demo")
        page.get_by_label("Password").fill(demo["password"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/w/*/")
        shot("overview")
        workspace_url = page.url

        # A dataset, and a manifest imported from this computer with its progress bar.
        page.get_by_role("link", name="Datasets").click()
        page.get_by_label("Name", exact=True).fill("news")
        page.get_by_label("Labels").fill("sport\nweather")
        page.get_by_role("button", name="Create dataset").click()
        page.wait_for_url(re.compile(rf".*/datasets/{UUID}/$"))
        page.get_by_label("Manifest file", exact=True).set_input_files(str(manifest(tmp_path / "news.manifest")))
        page.get_by_role("button", name="Import").click()
        task = page.locator("tr[data-import-task]").first
        task.locator("progress").wait_for()
        expect(task.locator("[data-field=status]")).to_have_text("succeeded", timeout=STEP_MS)
        bar = page.locator("tr[data-import-task] progress").first
        assert bar.get_attribute("value") == bar.get_attribute("max")
        assert page.locator("tr[data-import-task] td[data-field=added]").first.inner_text() == "12"
        assert page.locator("canvas[data-chart=label-chart]").is_visible()
        shot("dataset")

        # Two samples labelled in the annotation tool, with the keyboard, then accepted.
        page.get_by_label("Task name").fill("first pass")
        page.get_by_role("button", name="Create task").click()
        page.wait_for_url(re.compile(rf".*/annotation/{UUID}/$"))
        page.get_by_role("link", name="Annotate my items").click()
        tool = page.locator("[data-annotator]")
        tool.focus()
        page.keyboard.press("2")  # weather
        page.keyboard.press("Enter")
        expect(tool).to_have_attribute("data-saved", "1")
        page.keyboard.press("1")  # sport
        page.keyboard.press("Enter")
        expect(tool).to_have_attribute("data-done", "true")
        shot("annotate")
        page.get_by_role("link", name="first pass").click()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Accept all submitted").click()
        page.get_by_text("2 of 2 accepted").wait_for()

        # A version to train on.
        page.get_by_role("link", name="news").click()
        page.get_by_label("Version name").fill("v1")
        page.get_by_role("button", name="Publish").click()
        page.get_by_text("Download", exact=True).first.wait_for(timeout=STEP_MS)

        # The CPU preset trains; its loss chart gains points while it runs.
        page.goto(workspace_url + "training/new/")
        page.get_by_label("Job name").fill("news-cls")
        page.get_by_label("Pool").select_option(label="local")
        page.get_by_label("Flavor").select_option("cpu.2u8g")
        page.get_by_label("epochs").fill("5")
        shot("training-new")
        page.get_by_role("button", name="Start training").click()
        page.wait_for_url(re.compile(rf".*/training/{UUID}/$"))
        job_url = page.url
        curve = page.locator("canvas[data-metrics]")
        expect(curve).to_have_attribute("data-points", re.compile(r"^[1-9][0-9]*$"), timeout=STEP_MS)
        first_points = int(curve.get_attribute("data-points"))
        expect(page.locator("[data-phase]")).to_have_attribute("data-phase", "succeeded", timeout=STEP_MS)
        expect(curve).to_have_attribute("data-points", re.compile(r"^([5-9]|[1-9][0-9]+)$"))
        assert int(curve.get_attribute("data-points")) >= first_points
        expect(page.locator("pre[data-log-tail]")).to_contain_text("done: accuracy")
        shot("training-job")

        # Register what it trained and deploy it; the playground streams its answer through the gateway.
        page.goto(workspace_url + "models/")
        page.get_by_label("Name", exact=True).fill("news")
        page.get_by_label("Training job").select_option(label="news-cls")
        page.get_by_role("button", name="Register").click()
        page.get_by_role("link", name="Deploy").first.click()
        page.get_by_label("Name", exact=True).fill("news")
        page.get_by_label("Pool").select_option(label="local")
        page.get_by_label("Flavor", exact=True).select_option("cpu.2u8g")
        page.locator("#memory-plan").wait_for()
        shot("service-new")
        page.get_by_role("button", name="Deploy").click()
        page.wait_for_url(re.compile(rf".*/services/{UUID}/$"))
        page.get_by_label("Your message").wait_for(timeout=STEP_MS)
        page.get_by_label("Your message").fill("the team won the match")
        page.keyboard.press("Enter")
        page.locator(".turn.assistant p").filter(has_text="sport").wait_for(timeout=STEP_MS)
        shot("service")

        # Work that waits says why: a quota of one workload in the local pool, and a second job.
        api = {"Authorization": f"Bearer {demo['key']}"}
        workspace_id = workspace_url.rstrip("/").rsplit("/", 1)[1]
        pool = next(p for p in requests.get(f"{platform.url}/api/v1/resource-pools/", headers=api, timeout=30)
                    .json()["results"] if p["name"] == "local")
        quota = requests.post(f"{platform.url}/api/v1/workspaces/{workspace_id}/quotas/", headers=api, timeout=30,
                              json={"pool": pool["id"], "max_workloads": 1})
        assert quota.status_code == 201, quota.text
        page.goto(job_url)
        page.once("dialog", lambda dialog: dialog.accept("news-cls-again"))
        page.get_by_role("button", name="Copy and run again").click()
        page.wait_for_url(lambda url: url != job_url)
        page.goto(workspace_url + "queue/")
        reason = page.locator("td[data-pending-reason]").first
        for _ in range(30):
            if "quota" in reason.inner_text().lower():
                break
            page.wait_for_timeout(1000)
            page.reload()
        assert "quota" in reason.inner_text().lower(), reason.inner_text()
        shot("queue")

        # A bill, downloaded as CSV from the billing page.
        made = requests.post(f"{platform.url}/api/v1/billing/bills/", headers=api, timeout=60,
                             json={"period": date.today().isoformat()})
        assert made.status_code in (200, 201), made.text
        page.goto(f"{platform.url}/console/billing/")
        shot("billing")
        with page.expect_download() as download:
            page.locator("a[data-bill-csv]").first.click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows and len(rows[0]) > 3, rows[:2]

        # A narrow window gets the same pages.
        page.set_viewport_size({"width": 390, "height": 800})
        page.goto(workspace_url)
        assert page.get_by_role("link", name="Datasets").is_visible()
        shot("overview-narrow")
        assert not problems, problems
    except BaseException:
        # What the browser showed when it failed, for whoever reads the test's artefacts.
        shot("failure")
        (SHOTS / "failure.html").write_text(page.content())
        (SHOTS / "failure-console.txt").write_text("\n".join(problems) + "\n" + platform.logs())
        raise
    context.close()

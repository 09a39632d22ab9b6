"""The content security policy of the pages people open (API docs, admin, browsable API), and that
those pages need nothing it forbids: no inline script, every script and style from this origin."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"], "font-src": ["'self'", "data:"], "connect-src": ["'self'"],
    "object-src": ["'none'"], "base-uri": ["'self'"], "form-action": ["'self'"], "frame-ancestors": ["'none'"],
}


def policy(response) -> dict[str, list[str]]:
    directives = [d.split() for d in response["Content-Security-Policy"].split(";")]
    return {name: sorted(sources) for name, *sources in directives}


def scripts(html: str) -> list[tuple[str, str]]:
    """(attributes, body) of each <script> element."""
    return re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)


def assert_runs_under_the_policy(html: str):
    for attributes, body in scripts(html):
        executable = "application/json" not in attributes
        assert not (executable and body.strip()), f"an inline script the policy blocks: {body[:200]}"
    for url in re.findall(r'(?:src|href)="(/static/[^"?]+)', html):
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file of this origin"


def test_swagger_ui_loads_its_script_from_this_origin():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    assert policy(page) == POLICY
    html = page.content.decode()
    assert_runs_under_the_policy(html)
    script_url = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', html).group(1)
    script = Client().get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content and b"/api/schema/" in script.content
    assert b"validatorUrl" in script.content  # no badge from the online validator


def test_admin_and_browsable_api_run_under_the_policy(developer):
    login = Client().get("/admin/login/")
    assert policy(login) == POLICY
    assert_runs_under_the_policy(login.content.decode())

    browser = Client()
    browser.force_login(developer)
    page = browser.get("/api/v1/me/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert policy(page) == POLICY
    assert_runs_under_the_policy(page.content.decode())


def test_api_answers_carry_the_policy_too(developer_client):
    assert policy(developer_client.get("/api/v1/me/")) == POLICY

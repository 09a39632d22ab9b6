"""Every console page: who may open it (every role reads; developers change; annotators annotate),
another tenant's workspace or resource answering 404 as in the API, query counts that do not grow
with the page size, forms whose fields are the API's (so its errors land on them), and pages that
run under the content security policy."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from aiplatform.models import Role
from tests.aiplatform.test_content_security_policy import assert_runs_under_the_policy
from tests.conftest import client_for
from tests.factories import UserFactory, member_of
from training.models import Algorithm

pytestmark = pytest.mark.django_db

READ = ["", "members/", "datasets/", "datasets/{dataset}/", "annotation/", "datasets/{dataset}/annotation/{task}/",
        "training/", "training/{job}/", "training/compare/?jobs={job}", "models/", "services/", "services/{service}/",
        "queue/"]
DEVELOP = ["datasets/{dataset}/edit/", "training/new/", "services/new/"]
ANNOTATE = ["datasets/{dataset}/annotation/{task}/annotate/"]
ALLOWED = {Role.VIEWER: READ, Role.ANNOTATOR: READ + ANNOTATE, Role.DEVELOPER: READ + ANNOTATE + DEVELOP,
           Role.OWNER: READ + ANNOTATE + DEVELOP}


def test_every_role_opens_what_it_may_and_is_told_which_role_the_rest_needs(tenant):
    for role, allowed in ALLOWED.items():
        browser = tenant.browser(role)
        for path in READ + ANNOTATE + DEVELOP:
            page = browser.get(tenant.url(path.format(**tenant.ids)))
            if path in allowed:
                assert page.status_code == 200, (role, path)
                assert_runs_under_the_policy(page.content.decode())
            else:
                assert page.status_code == 403, (role, path)
                needed = "developer" if path in DEVELOP else "annotator"
                assert f"needs the {needed} role" in page.content.decode(), (role, path)


def test_another_tenants_workspace_and_resources_are_not_found(tenant, other):
    browser = tenant.browser(Role.OWNER)
    for path in READ + ANNOTATE + DEVELOP:
        # Their workspace, and their resources under my own workspace's address.
        assert browser.get(other.url(path.format(**other.ids))).status_code == 404, path
        if "{" in path and "?" not in path:
            assert browser.get(tenant.url(path.format(**other.ids))).status_code == 404, path
    # Comparing names jobs of the workspace only: another's is left out, as an unknown id.
    compared = browser.get(tenant.url(f"training/compare/?jobs={other.ids['job']}")).content.decode()
    assert other.ids["job"] not in compared and "data-metrics" not in compared
    assert browser.get(f"/console/switch/?workspace={other.workspace.pk}").status_code == 404


def test_signed_out_visitors_go_to_the_sign_in_page_and_the_root_is_the_console(tenant):
    page = Client().get(tenant.url())
    assert page.status_code == 302 and page["Location"].startswith("/console/login/")
    assert Client().get("/")["Location"] == "/console/"


def test_the_console_lands_on_the_last_workspace_opened(tenant):
    browser = tenant.browser(Role.DEVELOPER)
    assert browser.get("/console/")["Location"] == tenant.url()
    lonely = Client()
    lonely.force_login(UserFactory())
    assert "not a member of any workspace" in lonely.get("/console/").content.decode()


def queries(browser, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url).status_code == 200, url
    return len(captured)


PAGED = ["datasets/", "training/", "services/", "models/", "annotation/", "queue/", "members/", "",
         "datasets/{dataset}/"]


def test_query_counts_do_not_grow_with_the_page(tenant, pools):
    browser = tenant.browser(Role.OWNER)
    urls = [tenant.url(path.format(**tenant.ids)) for path in PAGED]
    queries(browser, urls[0])  # the session's first page also saves the workspace it opened
    small = [queries(browser, url + "?page_size=10&samples=24") for url in urls]
    api = client_for(tenant.people[Role.DEVELOPER])
    base = f"/api/v1/workspaces/{tenant.workspace.pk}"
    for i in range(11):  # more of everything than a small page holds: datasets, jobs, models, services, …
        api.post(f"{base}/datasets/", {"name": f"more-{i}", "type": "text_classification"}, format="json")
        api.post(f"{base}/training-jobs/{tenant.ids['job']}/copy/", {"name": f"copy-{i}"}, format="json")
        api.post(f"{base}/models/", {"name": f"m-{i}", "source": "storage", "runtime": "vllm",
                                     "uri": f"file://ws-{tenant.workspace.pk}/llama"}, format="json")
        api.post(f"{base}/services/", {"name": f"s-{i}", "model": tenant.ids["model"], "pool": str(pools[1].pk),
                                       "flavor": "npu.910b.8"}, format="json")
        member_of(tenant.workspace, Role.VIEWER)
    api.post(f"{base}/datasets/{tenant.ids['dataset']}/samples/", {"samples": [
        {"source": f"content://more {j}"} for j in range(40)]}, format="json")
    large = [queries(browser, url + "?page_size=100&samples=96") for url in urls]
    assert large == small, list(zip(PAGED, small, large, strict=True))


def fields_of(html: str) -> set[str]:
    return set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', html)) - {"csrfmiddlewaretoken"}


def slots_of(html: str) -> set[str]:
    return set(re.findall(r'data-error-for="([^"]+)"', html))


def test_forms_name_the_apis_fields_and_show_its_errors_at_them(tenant):
    """A form sends what its fields hold under their names to the API; the API's errors name the
    same fields (`attr`), and each has a place under its field where the page shows it."""
    browser = tenant.browser(Role.DEVELOPER)
    api = client_for(tenant.people[Role.DEVELOPER])
    base = f"/api/v1/workspaces/{tenant.workspace.pk}"
    html = browser.get(tenant.url(f"training/new/?algorithm={tenant.ids['algorithm']}")).content.decode()
    assert {"name", "pool", "flavor", "node_count", "hyperparameters.epochs", "inputs.0.channel",
            "inputs.0.dataset_version", "inputs.0.uri"} <= fields_of(html)
    default = next(h["default"] for h in Algorithm.objects.get(pk=tenant.ids["algorithm"]).hyperparameters
                   if h["name"] == "epochs")
    assert re.search(rf'name="hyperparameters.epochs" type="number" value="{default}"', html)  # the default, shown
    refused = api.post(f"{base}/training-jobs/", {"name": "", "algorithm": tenant.ids["algorithm"], "pool": "",
                                                  "flavor": "cpu.8u32g", "hyperparameters": {"epochs": -3}},
                       format="json").json()
    for error in refused["errors"]:
        assert error["attr"] in slots_of(html), error

    html = browser.get(tenant.url("datasets/")).content.decode()
    refused = api.post(f"{base}/datasets/", {"name": "", "type": "nonsense", "labels": [{"name": ""}]},
                       format="json").json()
    for error in refused["errors"]:
        assert error["attr"].split(".")[0] in slots_of(html), error

    html = browser.get(tenant.url("services/new/")).content.decode()
    refused = api.post(f"{base}/services/", {"name": "Not A Slug", "model": tenant.ids["model"], "pool": "",
                                             "flavor": "npu.910b.8", "tensor_parallel": 0}, format="json").json()
    for error in refused["errors"]:
        assert error["attr"] in slots_of(html), error
    assert {"tensor_parallel", "pipeline_parallel", "prefill_instances", "decode_instances", "kv_cache_dtype",
            "quantization", "prefix_caching", "max_model_len"} <= fields_of(html)


def test_a_job_page_polls_its_metrics_and_log_from_the_api(tenant):
    html = tenant.browser(Role.VIEWER).get(tenant.url(f"training/{tenant.ids['job']}/")).content.decode()
    base = f"/api/v1/workspaces/{tenant.workspace.pk}"
    assert f"{base}/training-jobs/{tenant.ids['job']}/metrics/" in html
    assert f'data-log-tail="{base}/workloads/{tenant.ids["job_workload"]}/logs/?tail=200"' in html
    assert "data-pending-reason" in html  # a queued job says why it waits


def test_the_annotation_tool_lists_only_the_annotators_own_items(tenant):
    html = tenant.browser(Role.ANNOTATOR).get(
        tenant.url(f"datasets/{tenant.ids['dataset']}/annotation/{tenant.ids['task']}/annotate/")).content.decode()
    items = re.search(r'<script id="annotation-items" type="application/json">(.*?)</script>', html, re.S).group(1)
    assert items.count('"sample"') == 2  # the unlabelled samples 0 and 3, both dealt to the one annotator
    owner_view = tenant.browser(Role.OWNER).get(
        tenant.url(f"datasets/{tenant.ids['dataset']}/annotation/{tenant.ids['task']}/annotate/")).content.decode()
    assert re.search(r'id="annotation-items" type="application/json">\[\]<', owner_view)

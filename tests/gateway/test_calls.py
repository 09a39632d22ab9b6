"""The gateway's answers to bad input and faults (each in the one error shape), its routing,
limits and metering, against real upstream servers on loopback."""

import asyncio
import time
from datetime import timedelta
from decimal import Decimal

import aiohttp
import pytest
import requests
from django.utils import timezone

from aiplatform.models import ApiKey
from aiplatform.services import revoke_api_key
from bench.upstream import Options, Running
from billing import services as billing
from billing.models import BillLine, TokenUsageRecord
from gateway import metering
from gateway.models import MeterBatch, TrafficMinute
from inference.models import Service
from resourcepools.models import Flavor, Phase
from resourcepools.services import transition_workload
from tests.gateway.conftest import Tenant, free_port

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 3}


def post(url, token, body=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(url, json=CHAT if body is None else body, headers=headers, timeout=10, **kwargs)


def error(response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"type", "errors"} and set(body["errors"][0]) == {"code", "detail", "attr"}
    return response.status_code, body["errors"][0]["code"]


def test_bad_calls_answer_in_the_one_error_shape(gateway, upstream, tenant, settings):
    service, workload = tenant.service()
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    url = tenant.url(gateway, service)
    answered = post(url, tenant.token)
    assert answered.status_code == 200
    # What a tenant's runtime sends is never sniffed nor run as one of the platform's pages.
    assert answered.headers["X-Content-Type-Options"] == "nosniff"
    assert answered.headers["Content-Security-Policy"].startswith("sandbox")
    assert error(post(url, None)) == (401, "not_authenticated")
    assert error(post(url, "aip_nothing_here")) == (401, "authentication_failed")
    unknown = url.replace(service["id"], "00000000-0000-0000-0000-000000000000")
    assert error(post(unknown, tenant.token)) == (404, "not_found")
    assert error(post(url.replace(service["id"], "not-a-uuid"), tenant.token)) == (404, "not_found")
    # Another tenant's service answers exactly as one in a workspace that does not exist.
    stranger = Tenant()
    theirs = post(url, stranger.token)
    nowhere = post(url.replace(str(tenant.workspace.pk), "00000000-0000-0000-0000-000000000000"), stranger.token)
    assert error(theirs) == (404, "not_found") and theirs.json() == nowhere.json()
    assert error(requests.post(url, data=b"{not json", timeout=10, headers={
        "Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"})) == (400, "parse_error")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    assert error(post(url, tenant.token, {**CHAT, "padding": "x" * 2048})) == (413, "request_too_large")
    assert error(requests.delete(url, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=10)) == (
        405, "method_not_allowed")
    # An upstream 5xx: 502, and the gateway says what the instance said.
    failed = post(url, tenant.token, {**CHAT, "model": "error"})
    assert error(failed) == (502, "upstream_error") and "answered 500" in failed.json()["errors"][0]["detail"]
    assert failed.headers["X-Request-Id"]
    gateway.wait_idle()


def test_a_service_that_is_not_running_or_has_no_instance_answers_503(gateway, upstream, tenant):
    service, workload = tenant.service()
    url = tenant.url(gateway, service)
    none = post(url, tenant.token)  # running, but the backend reports no instance
    assert error(none) == (503, "service_unavailable") and none.headers["Retry-After"]
    queued, _ = tenant.service("queued", running=False)
    answer = post(tenant.url(gateway, queued), tenant.token)
    assert error(answer) == (503, "service_unavailable")
    assert "is queued" in answer.json()["errors"][0]["detail"]
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    transition_workload(workload=workload, to=Phase.STOPPING, reason="Stop", message="Stopped by the test.")
    time.sleep(1.2)  # the cached service expires (GATEWAY_CACHE_SECONDS = 1), as it would without Redis
    assert error(post(url, tenant.token)) == (503, "service_unavailable")


def test_a_revoked_key_stops_at_once(gateway, upstream, tenant):
    service, workload = tenant.service()
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    url = tenant.url(gateway, service)
    assert post(url, tenant.token).status_code == 200
    revoke_api_key(api_key=ApiKey.objects.get(user=tenant.developer))
    deadline = time.monotonic() + 2  # published through Redis; the cache's lifetime is the bound without it
    while post(url, tenant.token).status_code != 401:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.05)


def test_a_failed_connection_is_retried_on_another_instance_and_the_instance_set_aside(gateway, upstream, tenant):
    service, workload = tenant.service()
    dead = f"http://127.0.0.1:{free_port()}"
    gateway.endpoints[str(workload.pk)] = [dead, upstream.url]
    url = tenant.url(gateway, service)
    assert all(post(url, tenant.token).status_code == 200 for _ in range(6))
    assert upstream.stats.requests == 6
    router = gateway.app.routers[service["id"]]
    assert router.instances[dead].ejected_until > time.monotonic() and router.instances[dead].served <= 1


async def _streams(url, token, count, body):
    async with aiohttp.ClientSession() as session:
        async def one():
            async with session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as response:
                return response.status, await response.read()
        return await asyncio.gather(*(one() for _ in range(count)))


def test_requests_go_to_the_instance_with_the_fewest_in_flight(gateway, tenant):
    first, second = Running(Options(interval_ms=20)), Running(Options(interval_ms=20))
    try:
        service, workload = tenant.service()
        gateway.endpoints[str(workload.pk)] = [first.url, second.url]
        answers = asyncio.run(_streams(tenant.url(gateway, service), tenant.token, 20,
                                       {**CHAT, "stream": True, "max_tokens": 10}))
        assert [status for status, _ in answers] == [200] * 20
        assert (first.stats.requests, second.stats.requests) == (10, 10)
    finally:
        first.stop()
        second.stop()
    gateway.wait_idle()


def test_prefix_aware_routing_sends_a_shared_prompt_prefix_where_it_is_cached(gateway, tenant):
    upstreams = [Running(Options(interval_ms=1, prefix_cache=True, prefix_chars=512)) for _ in range(3)]
    try:
        service, workload = tenant.service()
        gateway.endpoints[str(workload.pk)] = [u.url for u in upstreams]
        url = tenant.url(gateway, service)
        documents = [f"document {d}: " + "lorem ipsum " * 100 for d in range(4)]

        def ask(rounds):
            for _ in range(rounds):
                for d, document in enumerate(documents):
                    assert post(url, tenant.token, {**CHAT, "messages": [
                        {"role": "user", "content": f"{document}\nquestion {d}"}]}).status_code == 200

        def hits():
            return sum(u.stats.hits for u in upstreams), sum(u.stats.misses for u in upstreams)

        ask(3)  # least outstanding: one request at a time goes round the instances, missing their caches
        assert hits() == (0, 12)
        for u in upstreams:
            requests.post(f"{u.url}/stats/reset", timeout=5)
        assert tenant.client.put(f"{tenant.base}/services/{service['id']}/limits/", {"routing": "prefix"},
                                 format="json").status_code == 200
        time.sleep(1.2)
        ask(3)  # prefix-aware: a document's questions follow it to the instance that has it cached
        assert hits() == (8, 4)
    finally:
        for u in upstreams:
            u.stop()


def test_limits_per_key_and_service_answer_429_with_retry_after(gateway, upstream, tenant, settings):
    settings.GATEWAY_KEY_REQUESTS_PER_MINUTE = 3
    service, workload = tenant.service()
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    url = tenant.url(gateway, service)
    answers = [post(url, tenant.token) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert error(answers[3]) == (429, "throttled") and 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert "this API key may make 3 requests a minute" in answers[3].json()["errors"][0]["detail"]
    settings.GATEWAY_KEY_REQUESTS_PER_MINUTE = 0
    # A service's tokens a minute, set through the API: the request that reaches it is the last.
    limits = tenant.client.put(f"{tenant.base}/services/{service['id']}/limits/", {"tokens_per_minute": 5},
                               format="json")
    assert limits.status_code == 200 and limits.json()["tokens_per_minute"] == 5
    assert tenant.client.put(f"{tenant.base}/services/{service['id']}/limits/", {"tokens_per_minute": -1},
                             format="json").json()["errors"][0]["attr"] == "tokens_per_minute"
    time.sleep(1.2)
    assert post(url, tenant.token).status_code == 200  # 1 prompt + 3 completion tokens
    assert post(url, tenant.token).status_code == 200  # 8 now: past the limit
    refused = post(url, tenant.token)
    assert error(refused) == (429, "throttled") and "this service may use 5 tokens a minute" in refused.text


def test_a_maximum_of_streams_per_instance(gateway, tenant):
    slow = Running(Options(interval_ms=100))
    try:
        service, workload = tenant.service()
        gateway.endpoints[str(workload.pk)] = [slow.url]
        tenant.client.put(f"{tenant.base}/services/{service['id']}/limits/", {"max_streams_per_instance": 1},
                          format="json")
        time.sleep(1.2)

        async def two():
            async with aiohttp.ClientSession() as session:
                headers = {"Authorization": f"Bearer {tenant.token}"}
                long = await session.post(tenant.url(gateway, service), json={**CHAT, "stream": True,
                                                                              "max_tokens": 20}, headers=headers)
                second = await session.post(tenant.url(gateway, service), json=CHAT, headers=headers)
                status = second.status, (await second.json())["errors"][0]["code"]
                await long.read()
                return status

        assert asyncio.run(two()) == (429, "throttled")
    finally:
        slow.stop()
    gateway.wait_idle()


def test_metering_is_written_once_when_a_flush_is_retried_and_its_tokens_are_billed(gateway, tenant):
    upstream = Running(Options(interval_ms=0))
    service, workload = tenant.service()
    # In force from before this minute: metering counts by the minute.
    since = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    billing.publish_price(flavor=Flavor.objects.get(name="cpu.8u32g"), pay_per_use_hourly=Decimal("0"),
                          monthly=Decimal("0"), yearly=Decimal("0"), input_tokens_per_million=Decimal("2.00"),
                          output_tokens_per_million=Decimal("8.00"), effective_from=since, now=since)
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    url = tenant.url(gateway, service)
    try:
        for _ in range(5):
            assert post(url, tenant.token, {**CHAT, "max_tokens": 200_000 // 5, "stream": False}).status_code == 200
    finally:
        upstream.stop()
    gateway.wait_idle()
    app = gateway.app

    async def flush_that_fails_after_writing():
        await metering.push(app.meter, app.store)
        batches = await app.store.take()  # as a flush does; it then dies before telling Redis
        for batch_id, sums in batches:
            assert await app.run(_write, batch_id, sums)
        await app.store.release()
        return [batch_id for batch_id, _ in batches]

    written = gateway.call(flush_that_fails_after_writing)
    assert len(written) == 1
    assert gateway.call(app.flush_meter) == 1  # the next flush writes the same batch again: nothing added
    assert gateway.call(app.flush_meter) == 0
    assert MeterBatch.objects.count() == 1
    traffic = TrafficMinute.objects.get(service_id=service["id"])
    assert (traffic.requests, traffic.completion_tokens, traffic.prompt_tokens) == (5, 200_000, 5)
    record = TokenUsageRecord.objects.get()
    assert (record.input_tokens, record.output_tokens, record.service_name) == (5, 200_000, service["name"])
    # Rated like any usage: 200,000 output tokens at 8.00 a million = 1.60; 5 input tokens ≈ 0.
    assert billing.rate_usage() == 1
    bill = billing.generate_bill(account=tenant.workspace.account, period=record.started_at.date())
    lines = {line.unit: line for line in BillLine.objects.filter(bill=bill, resource_type="service")}
    assert lines["1M output tokens"].amount == Decimal("1.60") and lines["1M output tokens"].quantity == Decimal("0.2")
    assert lines["1M output tokens"].resource_id == service["id"]
    assert lines["1M input tokens"].amount == Decimal("0.00")
    assert bill.total == Decimal("1.60")
    assert billing.rate_usage() == 0  # rated once
    # The traffic page reads what metering wrote.
    page = tenant.client.get(f"{tenant.base}/services/{service['id']}/traffic/").json()["results"]
    assert page[0]["requests"] == 5 and page[0]["completion_tokens"] == 200_000
    assert Service.objects.filter(pk=service["id"]).exists()


def _write(batch_id, sums):
    from gateway.services import record_meter_batch

    return record_meter_batch(batch_id=batch_id, sums=sums)


"""Calls through the gateway to real upstream servers: streaming passed through event by event,
usage asked for and metered, the caller leaving, upstreams that hang, reset or fail."""

import asyncio
import time

import aiohttp
import openai
import orjson
import pytest

from bench.upstream import Options, Running
from gateway.models import TrafficMinute

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 5}


def events(body: bytes) -> list[str]:
    return [line[len("data: "):] for line in body.decode().splitlines() if line.startswith("data: ")]


def test_the_openai_client_streams_through_the_gateway(gateway, upstream, tenant):
    service, workload = tenant.service()
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    client = openai.OpenAI(api_key=tenant.token, base_url=f"{gateway.url}{tenant.base}/services/{service['id']}/v1",
                           max_retries=0)
    stream = client.chat.completions.create(model="fake", messages=CHAT["messages"], max_tokens=5, stream=True)
    chunks = list(stream)
    # The usage the gateway asked for on the caller's behalf is not in the caller's stream.
    assert all(chunk.choices for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "tok " * 5
    answer = client.chat.completions.create(model="fake", messages=CHAT["messages"], max_tokens=3)
    assert answer.usage.completion_tokens == 3
    # Asked for, the usage reaches the caller.
    asked = list(client.chat.completions.create(model="fake", messages=CHAT["messages"], max_tokens=4, stream=True,
                                                stream_options={"include_usage": True}))
    assert asked[-1].usage.completion_tokens == 4 and not asked[-1].choices
    gateway.wait_idle()
    assert gateway.call(lambda: _push_and_flush(gateway)) == 1
    traffic = TrafficMinute.objects.get(service_id=service["id"])
    assert (traffic.requests, traffic.errors, traffic.completion_tokens, traffic.streams) == (3, 0, 12, 2)
    assert traffic.prompt_tokens == 3 * 2 and traffic.ttft_ms_total > 0
    assert str(traffic.api_key_prefix) == tenant.token.split("_")[1]


async def _push_and_flush(gateway):
    from gateway import metering

    await metering.push(gateway.app.meter, gateway.app.store)
    return await gateway.app.flush_meter()


async def _stream(url, token, body, *, read=None):
    """(status, headers, [(seconds since sent, chunk)]), reading at most `read` chunks."""
    received = []
    async with aiohttp.ClientSession() as session:
        sent = time.perf_counter()
        async with session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as response:
            async for chunk in response.content.iter_any():
                received.append((time.perf_counter() - sent, chunk))
                if read is not None and len(received) >= read:
                    break
            return response.status, response.headers, received


def test_events_pass_one_by_one_as_the_upstream_sends_them(gateway, tenant):
    slow = Running(Options(interval_ms=150))
    try:
        service, workload = tenant.service()
        gateway.endpoints[str(workload.pk)] = [slow.url]
        status, headers, received = asyncio.run(_stream(tenant.url(gateway, service), tenant.token,
                                                        {**CHAT, "stream": True, "max_tokens": 4}))
    finally:
        slow.stop()
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    assert headers["X-Request-Id"]
    token_times = [at for at, chunk in received if b'"content":"tok ' in chunk]
    # Each token arrived on its own, about when the upstream sent it: nothing was held back.
    assert len(token_times) == 4
    assert all(later - earlier > 0.1 for earlier, later in zip(token_times, token_times[1:], strict=False))


def test_a_caller_that_leaves_cancels_the_upstream_request(gateway, tenant):
    slow = Running(Options(interval_ms=100))
    try:
        service, workload = tenant.service()
        gateway.endpoints[str(workload.pk)] = [slow.url]
        asyncio.run(_stream(tenant.url(gateway, service), tenant.token, {**CHAT, "stream": True, "max_tokens": 200},
                            read=2))
        gateway.wait_idle()
        deadline = time.monotonic() + 5
        while slow.stats.cancelled < 1:
            assert time.monotonic() < deadline, "the upstream request was not cancelled"
            time.sleep(0.02)
        assert slow.stats.in_flight == 0 and slow.stats.completed == 0
    finally:
        slow.stop()
    assert gateway.app.in_flight == 0


def test_a_caller_that_hangs_up_once_the_stream_has_ended_got_a_whole_answer(gateway, upstream, tenant):
    """The upstream holds its connection after `data: [DONE]`; the OpenAI client leaves as soon as it
    reads it. That is an answered request, not an error, and not an instance to eject."""
    service, workload = tenant.service()
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    client = openai.OpenAI(api_key=tenant.token, base_url=f"{gateway.url}{tenant.base}/services/{service['id']}/v1",
                           max_retries=0)
    chunks = list(client.chat.completions.create(model="linger", messages=CHAT["messages"], max_tokens=3,
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "tok " * 3
    client.close()
    gateway.wait_idle()
    assert gateway.call(lambda: _push_and_flush(gateway)) == 1
    traffic = TrafficMinute.objects.get(service_id=service["id"])
    assert (traffic.requests, traffic.errors, traffic.completion_tokens, traffic.streams) == (1, 0, 3, 1)


@pytest.mark.parametrize("mode, code", [("hang", "upstream_timeout"), ("reset", "upstream_error")])
def test_an_upstream_that_hangs_or_resets_mid_stream_ends_it_with_an_error_event(gateway, upstream, tenant, mode,
                                                                                    code):
    service, workload = tenant.service()
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    status, _, received = asyncio.run(_stream(tenant.url(gateway, service), tenant.token,
                                              {**CHAT, "model": mode, "stream": True}))
    assert status == 200
    last = orjson.loads(events(b"".join(chunk for _, chunk in received))[-1])
    assert last["error"]["code"] == code
    # The OpenAI client raises it.
    client = openai.OpenAI(api_key=tenant.token, base_url=f"{gateway.url}{tenant.base}/services/{service['id']}/v1",
                           max_retries=0)
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=mode, messages=CHAT["messages"], stream=True))
    gateway.wait_idle()


def test_an_upstream_that_hangs_before_answering_times_out_with_504(gateway, upstream, tenant):
    service, workload = tenant.service()
    gateway.endpoints[str(workload.pk)] = [upstream.url]
    status, _, received = asyncio.run(_stream(tenant.url(gateway, service), tenant.token,
                                              {**CHAT, "model": "hang-before"}))
    body = orjson.loads(b"".join(chunk for _, chunk in received))
    assert status == 504 and body == {"type": "server_error", "errors": [
        {"code": "upstream_timeout", "detail": "The service's instance did not answer within 1.5 s.", "attr": None}]}
    gateway.wait_idle()

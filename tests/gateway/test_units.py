"""The gateway's pure parts: reading event streams, choosing instances."""

import orjson

from gateway.router import AllBusy, Ejection, ServiceRouter, prefix_hashes
from gateway.sse import StreamMeter, estimate_tokens, prompt_text, usage_of


def event(data) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def chunk(text) -> bytes:
    return event({"choices": [{"index": 0, "delta": {"content": text}}]})


def test_events_pass_as_they_complete_and_their_tokens_are_read():
    meter = StreamMeter()
    first = chunk("Hel")
    assert meter.feed(first[:10], 1.0) == b""  # half an event waits for its end
    assert meter.feed(first[10:] + chunk("lo")[:5], 2.0) == first
    assert meter.feed(chunk("lo")[5:], 3.0) == chunk("lo")
    assert (meter.content_events, meter.first_token_at, meter.usage) == (2, 2.0, None)
    usage = event({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}})
    assert meter.feed(usage + b"data: [DONE]\n\n", 4.0) == usage + b"data: [DONE]\n\n"
    assert meter.usage == (7, 2)


def test_the_usage_asked_for_the_caller_is_left_out_and_errors_are_seen():
    meter = StreamMeter(strip_usage=True)
    usage = event({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    assert meter.feed(chunk("") + usage + b"data: [DONE]\n\n", 1.0) == chunk("") + b"data: [DONE]\n\n"
    assert meter.usage == (1, 1) and meter.content_events == 0  # an empty delta is no token
    assert meter.feed(event({"error": {"message": "boom"}}), 2.0)
    assert meter.error == {"message": "boom"}


def test_what_is_not_an_event_stream_passes_through():
    meter = StreamMeter()
    assert meter.feed(b"x" * 70_000, 1.0) == b"x" * 70_000
    assert StreamMeter().feed(b"data: {}\r\n\r\n", 1.0) == b"data: {}\r\n\r\n"


def test_prompts_usage_and_estimates():
    assert prompt_text({"messages": [{"role": "user", "content": "a"},
                                     {"role": "user", "content": [{"type": "text", "text": "b"}]}]}) == "a\nb"
    assert prompt_text({"prompt": ["x", "y"]}) == "x\ny" and prompt_text({"prompt": 3}) == ""
    assert usage_of(b'{"usage": {"prompt_tokens": 3, "completion_tokens": 4}}') == (3, 4)
    assert usage_of(b"not json") is None and usage_of(b"[]") is None
    assert estimate_tokens("12345") == 2


def test_least_outstanding_with_ejection_and_panic():
    router = ServiceRouter(ejection=Ejection(after_errors=2, base_seconds=10))
    router.update(["a", "b"])
    a = router.pick(now=0)
    router.started(a)
    assert router.pick(now=0).url != a.url  # the idle one
    router.failed(router.instances["b"], unreachable=True, now=0)
    assert router.pick(now=1).url == "a" and router.instances["b"].ejected_until == 10
    router.failed(router.instances["b"], unreachable=True, now=11)
    assert router.instances["b"].ejected_until == 11 + 20  # doubled
    router.failed(router.instances["a"], unreachable=False, now=11)
    router.failed(router.instances["a"], unreachable=False, now=11)  # 2 errors in a row
    assert router.pick(now=12) is not None  # all set aside: tried anyway
    assert router.pick(exclude={"a", "b"}, now=12) is None
    try:
        router.pick(max_outstanding=1, exclude={"b"}, now=40)
    except AllBusy:
        pass
    else:
        raise AssertionError("a full instance was chosen")
    router.update(["a"])
    assert set(router.instances) == {"a"}


def test_prefix_routing_follows_the_longest_known_prefix_unless_that_instance_is_too_busy():
    router = ServiceRouter()
    router.update(["a", "b", "c"])
    document = "x" * 1000
    hashes = prefix_hashes(document + "question one", 256)
    assert len(hashes) == 3 and prefix_hashes("short", 256) == []
    first = router.pick(prefix=hashes, now=0)
    router.started(first, hashes)
    router.finished(first)
    again = prefix_hashes(document + "another question", 256)
    assert router.pick(prefix=again, now=0).url == first.url
    for _ in range(3):
        router.started(first)
    assert router.pick(prefix=again, max_imbalance=2, now=0).url != first.url

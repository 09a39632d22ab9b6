"""A fake OpenAI-compatible runtime for the gateway's tests and benchmark: it streams `max_tokens`
tokens at a fixed pace, and can misbehave on request.

    python bench/upstream.py --port 9000 --interval-ms 10 [--mode normal|hang|reset|error]
                             [--prefix-cache --hit-ms 2 --miss-ms 60]

A request's `model` may name a behaviour for that request alone: `hang` (headers, then silence),
`hang-before` (silence before any header), `reset` (two tokens, then the connection is cut), `error`
(500). With --prefix-cache the first token comes after --hit-ms when the prompt's first
--prefix-chars characters were seen before, else after --miss-ms (as a runtime with a prefix
cache answers a repeated long prompt faster). GET /stats tells requests, streams cancelled by the
caller, requests in flight and prefix hits and misses; POST /stats/reset zeroes them."""

import argparse
import asyncio
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field

from aiohttp import web


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0
    cancelled: int = 0
    completed: int = 0
    hits: int = 0
    misses: int = 0
    prompts: list = field(default_factory=list)


@dataclass
class Options:
    interval_ms: float = 10.0
    mode: str = "normal"
    prefix_cache: bool = False
    prefix_chars: int = 512
    hit_ms: float = 2.0
    miss_ms: float = 60.0
    first_token_ms: float = 0.0
    keep_prompts: bool = False


STATS = web.AppKey("stats", Stats)
# What a request's model may ask of the fake runtime instead of its normal answer.
MODES = ("hang", "hang-before", "reset", "error", "linger")


def _chunk(created: int, content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    return b"data: " + json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }, separators=(",", ":")).encode() + b"\n\n"


def make_app(options: Options) -> web.Application:
    stats = Stats()
    seen: set[str] = set()
    app = web.Application()
    app[STATS] = stats

    def prompt_of(body: dict) -> str:
        messages = body.get("messages") or []
        return "\n".join(m.get("content", "") for m in messages if isinstance(m, dict) and
                         isinstance(m.get("content"), str)) or str(body.get("prompt", ""))

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        stats.requests += 1
        stats.in_flight += 1
        try:
            return await _chat(request, body)
        finally:
            stats.in_flight -= 1

    async def _chat(request, body):
        mode = body.get("model") if body.get("model") in MODES else options.mode
        tokens = int(body.get("max_tokens") or 16)
        prompt = prompt_of(body)
        if options.keep_prompts:
            stats.prompts.append(prompt)
        prompt_tokens = max(1, len(prompt) // 4)
        delay = options.first_token_ms / 1000
        if options.prefix_cache:
            prefix = prompt[:options.prefix_chars]
            if prefix in seen:
                stats.hits += 1
                delay = options.hit_ms / 1000
            else:
                stats.misses += 1
                seen.add(prefix)
                delay = options.miss_ms / 1000
        if mode == "error":
            return web.json_response({"error": {"message": "the runtime failed", "type": "server_error"}}, status=500)
        if mode == "hang-before":
            await asyncio.sleep(3600)
        created = int(time.time())
        if not body.get("stream"):
            if delay:
                await asyncio.sleep(delay)
            await asyncio.sleep(options.interval_ms * tokens / 1000)
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "tok " * tokens},
                             "finish_reason": "length"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": tokens,
                          "total_tokens": prompt_tokens + tokens}})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            if delay:
                await asyncio.sleep(delay)
            interval = options.interval_ms / 1000
            for index in range(tokens):
                if index:
                    await asyncio.sleep(interval)
                await response.write(_chunk(created, "tok "))
                if mode == "hang" and index == 1:
                    await asyncio.sleep(3600)
                if mode == "reset" and index == 1:
                    request.transport.abort()
                    return response
            await response.write(_chunk(created, None, "length"))
            if (body.get("stream_options") or {}).get("include_usage"):
                await response.write(b"data: " + json.dumps({
                    "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": "fake",
                    "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": tokens,
                                             "total_tokens": prompt_tokens + tokens}}).encode() + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
            if mode == "linger":  # some runtimes hold the connection a while after the stream's end
                await asyncio.sleep(3600)
            await response.write_eof()
            stats.completed += 1
        except (asyncio.CancelledError, ConnectionResetError):
            stats.cancelled += 1
            raise
        return response

    async def models(request):
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def health(request):
        return web.Response(text="ok")

    async def get_stats(request):
        data = asdict(stats)
        if not options.keep_prompts:
            data.pop("prompts")
        return web.json_response(data)

    async def reset_stats(request):
        for name, value in asdict(Stats()).items():
            setattr(stats, name, value)
        seen.clear()
        return web.json_response({})

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", chat)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/stats/reset", reset_stats)
    return app


class Running:
    """An upstream served by a thread of its own (tests): `url`, `stats`, `stop()`."""

    def __init__(self, options: Options):
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True, name="fake-upstream")
        self.thread.start()
        self.started.wait(10)

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        self.app = make_app(self.options)
        self.runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.2)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.started.set()
        self.loop.run_forever()

    @property
    def stats(self) -> Stats:
        return self.app[STATS]

    def stop(self):
        async def end():
            await self.runner.cleanup()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(end(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # A serving replica of the local backend is told where to listen.
    parser.add_argument("--host", default=os.environ.get("AIP_SERVE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIP_SERVE_PORT", "9000")))
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--first-token-ms", type=float, default=0.0)
    parser.add_argument("--mode", default="normal", choices=["normal", "hang", "hang-before", "reset", "error"])
    parser.add_argument("--prefix-cache", action="store_true")
    parser.add_argument("--prefix-chars", type=int, default=512)
    parser.add_argument("--hit-ms", type=float, default=2.0)
    parser.add_argument("--miss-ms", type=float, default=60.0)
    args = parser.parse_args(argv)
    options = Options(interval_ms=args.interval_ms, mode=args.mode, prefix_cache=args.prefix_cache,
                      prefix_chars=args.prefix_chars, hit_ms=args.hit_ms, miss_ms=args.miss_ms,
                      first_token_ms=args.first_token_ms)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(options), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()

"""What the gateway reads from a passing answer without holding it back: server-sent events are
forwarded as soon as each is complete (a chunk that ends an event goes out as it came), and
read on the way for the tokens used and the time to the first token."""

import math
import re

import orjson

# An answer whose events never end (not server-sent events after all) is passed on as it comes.
MAX_PENDING = 64 * 1024


def estimate_tokens(text: str) -> int:
    """Tokens of a prompt where the runtime reports none: about four characters a token."""
    return math.ceil(len(text) / 4)


class StreamMeter:
    """Reads an event stream chunk by chunk. `usage` is (prompt, completion) tokens when the
    runtime reported them; `content_events` counts the events that carried text (a token each,
    as runtimes stream); `first_token_at` is when the first of them passed. With `strip_usage`,
    the usage-only event the gateway asked for on the caller's behalf is left out of what the
    caller gets. `finished` once the stream's `data: [DONE]` has passed."""

    __slots__ = ("pending", "usage", "content_events", "first_token_at", "strip_usage", "error", "separator",
                 "finished")

    def __init__(self, *, strip_usage: bool = False):
        self.pending = b""
        self.usage = None
        self.content_events = 0
        self.first_token_at = None
        self.strip_usage = strip_usage
        self.error = None
        self.separator = None
        self.finished = False

    def feed(self, chunk: bytes, now: float) -> bytes:
        """What of the stream so far can go to the caller now."""
        data = self.pending + chunk if self.pending else chunk
        if self.separator is None:
            if b"\r\n\r\n" in data:
                self.separator = b"\r\n\r\n"
            elif b"\n\n" in data:
                self.separator = b"\n\n"
            elif len(data) > MAX_PENDING:
                self.pending = b""
                return data
            else:
                self.pending = data
                return b""
        separator = self.separator
        end = data.rfind(separator)
        if end < 0:
            if len(data) > MAX_PENDING:
                self.pending = b""
                return data
            self.pending = data
            return b""
        end += len(separator)
        complete, self.pending = (data, b"") if end == len(data) else (data[:end], data[end:])
        events = complete.split(separator)
        kept = [event for event in events[:-1] if self._read(event, now)]
        if len(kept) == len(events) - 1:
            return complete
        return b"".join(event + separator for event in kept)

    def rest(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest

    def _read(self, event: bytes, now: float) -> bool:
        """Reads one event; False for one to leave out. Most events are a token's text: those are
        recognised by their bytes, and only the others (usage, errors) are parsed."""
        if b'"usage"' not in event and b'"error"' not in event:
            if event.endswith(b"[DONE]") and event.strip() in (b"data: [DONE]", b"data:[DONE]"):
                self.finished = True
            elif _TEXT.search(event):
                self.content_events += 1
                if self.first_token_at is None:
                    self.first_token_at = now
            return True
        for line in event.splitlines():
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if not payload.startswith(b"{"):
                continue
            try:
                data = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            if data.get("error"):
                self.error = data["error"]
            usage = data.get("usage")
            if isinstance(usage, dict):
                self.usage = (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
            choices = data.get("choices")
            if choices:
                for choice in choices:
                    if isinstance(choice, dict) and _has_text(choice):
                        self.content_events += 1
                        if self.first_token_at is None:
                            self.first_token_at = now
                        break
            elif self.strip_usage and isinstance(usage, dict):
                return False
        return True


# A non-empty text in a chunk: a delta's content or reasoning, or a completion's text.
_TEXT = re.compile(rb'"(?:content|reasoning_content|text)"\s*:\s*"[^"]|"tool_calls"\s*:\s*\[\s*\{')


def _has_text(choice: dict) -> bool:
    delta = choice.get("delta")
    if isinstance(delta, dict) and (delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls")):
        return True
    return bool(choice.get("text"))


def usage_of(body: bytes) -> tuple[int, int] | None:
    """The (prompt, completion) tokens a whole JSON answer reports, if any."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def prompt_text(body: dict) -> str:
    """The prompt of a chat or completion request, as one text (for prefix routing and estimates)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        parts = []
        for message in messages:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(part["text"] for part in content
                             if isinstance(part, dict) and isinstance(part.get("text"), str))
        return "\n".join(parts)
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        return "\n".join(prompt)
    return ""


def error_event(message: str, code: str) -> bytes:
    """An event that ends a broken stream in the shape the OpenAI clients raise from."""
    return b"data: " + orjson.dumps({"error": {"message": message, "type": "server_error", "code": code}}) + b"\n\n"

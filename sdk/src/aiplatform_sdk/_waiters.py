"""Waiting for long operations: poll with backoff until a state is reached, raise with the server's
message when the operation fails, and give up after a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from ._errors import OperationFailedError, WaitTimeoutError

T = TypeVar("T")

FIRST_POLL = 0.5
MAX_POLL = 5.0
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Lifecycle:
    """How to read a kind of resource's state: where it is, which states end it, which of those
    are failures, and where the server explains."""

    what: str
    state: Callable[[Any], str]
    done: frozenset[str]
    failed: frozenset[str]
    terminal: frozenset[str]
    message: Callable[[Any], str | None]


def wait_for(fetch: Callable[[], T], lifecycle: Lifecycle, *, until: str | Collection[str] | None = None,
             timeout: float | None = DEFAULT_TIMEOUT, poll_interval: float | None = None,
             on_change: Callable[[T], None] | None = None) -> T:
    """Fetches until the state is one of `until` (default: the lifecycle's success) and returns
    the resource; a failure state raises OperationFailedError with the server's message, another
    end state returns it as it is, and `timeout` seconds (None: no limit) raise WaitTimeoutError."""
    wanted = lifecycle.done if until is None else frozenset([until] if isinstance(until, str) else until)
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = poll_interval or FIRST_POLL
    last_state = None
    while True:
        current = fetch()
        state = lifecycle.state(current)
        if state != last_state and on_change is not None:
            on_change(current)
        last_state = state
        if state in wanted:
            return current
        if state in lifecycle.failed:
            reason = lifecycle.message(current) or "no reason given"
            raise OperationFailedError(f"{lifecycle.what} is {state}: {reason}", resource=current)
        if state in lifecycle.terminal:
            return current
        if deadline is not None and time.monotonic() + delay > deadline:
            why = lifecycle.message(current)
            raise WaitTimeoutError(f"{lifecycle.what} is still {state} after {timeout:g} s"
                                   + (f" ({why})" if why else "") + f"; waited for {', '.join(sorted(wanted))}.",
                                   resource=current)
        time.sleep(delay)
        if poll_interval is None:
            delay = min(delay * 1.5, MAX_POLL)


def _attr(*names: str) -> Callable[[Any], Any]:
    def read(obj: Any) -> Any:
        for name in names:
            obj = getattr(obj, name, None) if obj is not None else None
        return obj
    return read


def _text(read: Callable[[Any], Any]) -> Callable[[Any], str | None]:
    def message(obj: Any) -> str | None:
        value = read(obj)
        return str(value) if value else None
    return message


def _state(read: Callable[[Any], Any]) -> Callable[[Any], str]:
    return lambda obj: str(read(obj) or "")


WORKLOAD_END = frozenset({"succeeded", "failed", "stopped"})
TASK_END = frozenset({"succeeded", "failed"})

TRAINING_JOB = Lifecycle("training job", _state(_attr("phase")), frozenset({"succeeded"}),
                         frozenset({"failed", "stopped"}), WORKLOAD_END, _text(_attr("status", "message")))
WORKLOAD = Lifecycle("workload", _state(_attr("phase")), frozenset({"succeeded"}), frozenset({"failed", "stopped"}),
                     WORKLOAD_END, _text(_attr("message")))
IMPORT_TASK = Lifecycle("import", _state(_attr("status")), frozenset({"succeeded"}), frozenset({"failed"}), TASK_END,
                        _text(_attr("error")))
EXPORT_TASK = Lifecycle("export", _state(_attr("status")), frozenset({"succeeded"}), frozenset({"failed"}), TASK_END,
                        _text(_attr("error")))
VERSION = Lifecycle("dataset version", _state(_attr("status")), frozenset({"ready"}), frozenset({"failed"}),
                    frozenset({"ready", "failed"}), _text(_attr("error")))
SERVICE = Lifecycle("service", _state(_attr("state", "status")), frozenset({"running"}),
                    frozenset({"failed", "stopped"}), frozenset({"failed", "stopped"}),
                    _text(_attr("state", "message")))
BENCHMARK = Lifecycle("benchmark run", _state(_attr("state", "status")), frozenset({"succeeded"}),
                      frozenset({"failed", "stopped"}), frozenset({"succeeded", "failed", "stopped"}),
                      _text(_attr("state", "message")))

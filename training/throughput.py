"""Throughput of an LLM training job from its trainer's `trainer_log.jsonl`.

tokens/s per device = (end_total_tokens − start_total_tokens) / (end_time − start_time) / devices,
over the middle steps: the first `warmup` and the last `tail` fraction of the logged steps are
dropped (compilation, warm-up and the final save distort them)."""

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class LogEntry:
    step: int
    elapsed_seconds: float
    total_tokens: int | None
    total_samples: int | None
    values: dict  # numeric metrics on the line: loss, learning_rate, …


def parse_elapsed(value) -> float:
    """Seconds from a number or an 'H:MM:SS' (or 'D day(s), H:MM:SS') string."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    days = 0
    if "day" in text:
        head, text = text.split(",", 1)
        days = int(head.split()[0])
    parts = [float(p) for p in text.strip().split(":")]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return days * 86400 + seconds


METRIC_KEYS = {"loss": "loss", "lr": "learning_rate", "learning_rate": "learning_rate", "grad_norm": "grad_norm",
               "epoch": "epoch", "eval_loss": "eval_loss", "eval_perplexity": "eval_perplexity",
               "eval_accuracy": "eval_accuracy", "accuracy": "accuracy",
               "tokens_per_second_per_device": "tokens_per_second_per_device"}


def parse_line(line: str) -> LogEntry | None:
    """One line of the log, or None for a line without a step or time (e.g. a final summary)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    step = record.get("current_steps", record.get("step"))
    elapsed = record.get("elapsed_time", record.get("elapsed"))
    if step is None or elapsed is None:
        return None
    values = {name: float(record[key]) for key, name in METRIC_KEYS.items()
              if isinstance(record.get(key), (int, float))}
    total_samples = record.get("total_samples", record.get("samples"))
    return LogEntry(int(step), parse_elapsed(elapsed), record.get("total_tokens"), total_samples, values)


def summarise(entries: list[LogEntry], *, devices: int, warmup: float = 0.1, tail: float = 0.1) -> dict | None:
    """The throughput over the middle steps, with the window used; None with fewer than two.
    Only training lines count (evaluation lines carry no token counts)."""
    entries = sorted((e for e in entries if e.total_tokens is not None or e.total_samples is not None),
                     key=lambda e: e.step)
    n = len(entries)
    first, last = int(n * warmup), n - 1 - int(n * tail)
    if last - first < 1:
        first, last = 0, n - 1
    if n < 2 or last <= first:
        return None
    start, end = entries[first], entries[last]
    seconds = end.elapsed_seconds - start.elapsed_seconds
    if seconds <= 0:
        return None
    summary = {
        "window": {"start_step": start.step, "end_step": end.step, "seconds": seconds,
                   "warmup_fraction": warmup, "tail_fraction": tail, "devices": devices},
        "tokens_per_second_per_device": None,
        "samples_per_second": None,
    }
    if start.total_tokens is not None and end.total_tokens is not None:
        summary["tokens_per_second_per_device"] = (end.total_tokens - start.total_tokens) / seconds / devices
    if start.total_samples is not None and end.total_samples is not None:
        summary["samples_per_second"] = (end.total_samples - start.total_samples) / seconds
    return summary

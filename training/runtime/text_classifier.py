"""The CPU preset's trainer: multinomial logistic regression on hashed bag-of-words features,
trained with SGD, in plain Python so it runs wherever the platform runs.

Reads a ModelArts-style manifest (JSON lines with `source` and `annotation`); the text of a
sample is its `property.text`, or the `source` itself when it is `content://<text>`, or the
file the source names. Writes checkpoints, `model.json` and `trainer_log.jsonl` (the format the
platform reads for metrics and throughput) to the output directory, and reports metrics to the
platform with the job token when it has one.

    python -m training.runtime.text_classifier --data=file:///…/manifest.jsonl --output_dir=file:///…/out
"""

import argparse
import json
import math
import os
import random
import sys
import time
import urllib.request
import zlib
from pathlib import Path


def local_path(uri: str) -> Path:
    """file://bucket/key lives under the platform's local storage root (AIP_LOCAL_STORAGE_ROOT);
    file:///absolute/path and plain paths are taken as they are."""
    if uri.startswith("file:///") or "://" not in uri:
        return Path(uri.removeprefix("file://"))
    if uri.startswith("file://"):
        return Path(os.environ.get("AIP_LOCAL_STORAGE_ROOT", ".")) / uri[len("file://"):]
    raise SystemExit(f"this trainer reads the platform's local storage only, not {uri}")


def sample_text(record: dict, base: Path) -> str:
    text = (record.get("property") or {}).get("text")
    if text:
        return text
    source = record.get("source", "")
    if source.startswith("content://"):
        return source[len("content://"):]
    path = local_path(source) if source.startswith("file://") or "://" not in source else None
    if path is not None:
        path = path if path.is_absolute() else base / path
        if path.exists():
            return path.read_text(errors="replace")
    return ""


def read_samples(manifest: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, eval) labelled samples: lines marked EVAL are the evaluation split."""
    samples, evaluation = [], []
    with manifest.open() as lines:
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            labels = record.get("annotation") or []
            if labels and labels[0].get("name"):
                split = evaluation if str(record.get("usage", "")).upper() == "EVAL" else samples
                split.append((sample_text(record, manifest.parent), labels[0]["name"]))
    return samples, evaluation


def features(text: str, size: int) -> dict[int, float]:
    counts: dict[int, float] = {}
    for word in text.lower().split():
        index = zlib.crc32(word.encode()) % size
        counts[index] = counts.get(index, 0.0) + 1.0
    norm = math.sqrt(sum(v * v for v in counts.values())) or 1.0
    return {k: v / norm for k, v in counts.items()}


def softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def evaluate(samples, classes, weights, bias) -> tuple[float, float]:
    """Mean loss over the eval samples of known classes, and accuracy over all of them."""
    losses, correct = [], 0
    for x, label in samples:
        probs = softmax([bias[c] + sum(weights[c][k] * v for k, v in x.items()) for c in range(len(classes))])
        predicted = classes[probs.index(max(probs))]
        correct += predicted == label
        if label in classes:
            losses.append(-math.log(max(probs[classes.index(label)], 1e-12)))
    return (sum(losses) / len(losses) if losses else 0.0), correct / len(samples)


def report(points: list[dict]) -> None:
    url, token = os.environ.get("AIP_METRICS_URL"), os.environ.get("AIP_JOB_TOKEN")
    if not url or not token:
        return
    request = urllib.request.Request(url, data=json.dumps({"metrics": points}).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Job {token}"})
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except OSError as exc:  # the trainer log still carries every metric; the platform reads it
        print(f"metrics report failed: {exc}", file=sys.stderr)


def train(args) -> dict:
    manifest = local_path(args.data)
    if manifest.is_dir():
        manifest = manifest / "manifest.jsonl"
    output = local_path(args.output_dir)
    (output / "checkpoints").mkdir(parents=True, exist_ok=True)
    samples, evaluation = read_samples(manifest)
    if not samples:
        raise SystemExit(f"no labelled samples in {manifest}")
    classes = sorted({label for _, label in samples})
    data = [(features(text, args.features), classes.index(label)) for text, label in samples]
    # Eval samples of a class training never saw count as wrong, with no loss term.
    eval_data = [(features(text, args.features), label) for text, label in evaluation]
    tokens_per_sample = [max(1, len(text.split())) for text, _ in samples]
    weights = [[0.0] * args.features for _ in classes]
    bias = [0.0] * len(classes)
    rng = random.Random(0)
    order = list(range(len(data)))
    started, step, total_tokens = time.monotonic(), 0, 0
    total_steps = args.epochs * len(data)
    print(f"training on {len(data)} samples, {len(classes)} classes: {', '.join(classes)}", flush=True)
    with (output / "trainer_log.jsonl").open("w") as log:
        for epoch in range(1, args.epochs + 1):
            rng.shuffle(order)
            loss_sum, correct = 0.0, 0
            for i in order:
                x, y = data[i]
                probs = softmax([bias[c] + sum(weights[c][k] * v for k, v in x.items()) for c in range(len(classes))])
                loss_sum -= math.log(max(probs[y], 1e-12))
                correct += probs.index(max(probs)) == y
                for c in range(len(classes)):
                    gradient = probs[c] - (1.0 if c == y else 0.0)
                    bias[c] -= args.learning_rate * gradient
                    for k, v in x.items():
                        weights[c][k] -= args.learning_rate * gradient * v
                step += 1
                total_tokens += tokens_per_sample[i]
            loss, accuracy = loss_sum / len(data), correct / len(data)
            line = {"current_steps": step, "total_steps": total_steps, "epoch": epoch, "loss": round(loss, 6),
                    "accuracy": round(accuracy, 6), "lr": args.learning_rate, "total_tokens": total_tokens,
                    "total_samples": step, "elapsed_time": round(time.monotonic() - started, 6)}
            log.write(json.dumps(line) + "\n")
            if eval_data:
                eval_loss, eval_accuracy = evaluate(eval_data, classes, weights, bias)
                log.write(json.dumps({"current_steps": step, "epoch": epoch, "eval_loss": round(eval_loss, 6),
                                      "eval_accuracy": round(eval_accuracy, 6),
                                      "elapsed_time": round(time.monotonic() - started, 6)}) + "\n")
                report([{"name": "eval_loss", "step": step, "value": eval_loss},
                        {"name": "eval_accuracy", "step": step, "value": eval_accuracy}])
            log.flush()
            checkpoint = output / "checkpoints" / f"epoch-{epoch}.json"
            checkpoint.write_text(json.dumps({"classes": classes, "bias": bias, "weights": weights}))
            print(f"epoch {epoch}/{args.epochs} loss {loss:.4f} accuracy {accuracy:.3f}", flush=True)
            report([{"name": "loss", "step": step, "value": loss}, {"name": "accuracy", "step": step,
                                                                     "value": accuracy}])
    model = {"kind": "hashed-bow-logistic-regression", "features": args.features, "classes": classes,
             "bias": bias, "weights": weights}
    (output / "model.json").write_text(json.dumps(model))
    return {"classes": classes, "loss": loss, "accuracy": accuracy}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Manifest (or a folder with manifest.jsonl).")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning_rate", type=float, default=0.5)
    parser.add_argument("--features", type=int, default=4096)
    result = train(parser.parse_args(argv))
    print(f"done: accuracy {result['accuracy']:.3f}", flush=True)


if __name__ == "__main__":
    main()

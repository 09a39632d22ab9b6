"""Pre-labelling: what a model's answers become, and how a running service of another app is
found. Datasets sit below inference (DESIGN.md §2), so inference registers the look-up here."""

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

# The texts of a batch are sent to the service this many at a time (the built-in runtime answers
# one text per request, from a threaded server).
PARALLEL_REQUESTS = 4
REQUEST_TIMEOUT = 30
MAX_TEXT_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServiceTarget:
    """A service as pre-labelling sees it: its name, whether it is running, and the base URLs
    (`…/predict` answers there) where it can be reached now."""

    name: str
    running: bool
    urls: tuple[str, ...] = ()


_finders: list[Callable] = []


def register_service_finder(finder: Callable) -> None:
    """`finder(*, workspace, service_id, resolve: bool) -> ServiceTarget | None`: None when the
    workspace has no such service; `resolve` asks for its URLs as well."""
    if finder not in _finders:
        _finders.append(finder)


def find_service(*, workspace, service_id, resolve: bool = False) -> ServiceTarget | None:
    for finder in _finders:
        target = finder(workspace=workspace, service_id=service_id, resolve=resolve)
        if target is not None:
            return target
    return None


def batches(items: Iterable, size: int) -> Iterator[list]:
    """The items in lists of `size` (the last one shorter)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True)
class Answer:
    """What the service said of one sample: a label and its confidence, or why there is none."""

    label: str = ""
    confidence: float = 0.0
    error: str = ""


def answer_from(body) -> Answer:
    """The built-in runtime's `{"label", "probabilities"}` (or a `{"label", "confidence"}`) as an
    Answer; anything else is an error naming what is missing."""
    if not isinstance(body, dict) or not isinstance(body.get("label"), str) or not body["label"]:
        return Answer(error="The service's answer has no 'label'.")
    label = body["label"]
    if isinstance(body.get("confidence"), int | float):
        confidence = body["confidence"]
    elif isinstance(body.get("probabilities"), dict) and isinstance(body["probabilities"].get(label), int | float):
        confidence = body["probabilities"][label]
    else:
        return Answer(error="The service's answer gives no confidence ('confidence' or 'probabilities' of its label).")
    if not 0 <= confidence <= 1:
        return Answer(error=f"The service's confidence {confidence!r} is not between 0 and 1.")
    return Answer(label=label, confidence=float(confidence))


@dataclass(frozen=True)
class Sorted:
    """A batch's answers by what becomes of them."""

    kept: list  # (sample, answer): stored as predictions
    below: list  # (sample, answer): under min_confidence, not stored
    unknown_label: list  # (sample, answer): a label outside the label set
    failed: list  # (sample, answer): no answer


def sort_answers(pairs: Iterable, *, min_confidence: float, label_names: set[str]) -> Sorted:
    result = Sorted([], [], [], [])
    for sample, answer in pairs:
        if answer.error:
            result.failed.append((sample, answer))
        elif answer.label not in label_names:
            result.unknown_label.append((sample, answer))
        elif answer.confidence < min_confidence:
            result.below.append((sample, answer))
        else:
            result.kept.append((sample, answer))
    return result


def predict_text(url: str, text: str) -> Answer:
    """POSTs one text to the service's `/predict`; a failure is an Answer with its reason."""
    request = urllib.request.Request(f"{url}/predict", data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return answer_from(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return Answer(error=f"The service answered HTTP {exc.code}.")
    except (OSError, ValueError) as exc:
        return Answer(error=f"The service could not be reached or answered badly: {exc}")


def predict_all(urls: tuple[str, ...], texts: list[str]) -> list[Answer]:
    """Answers for the texts, in order, sent PARALLEL_REQUESTS at a time across the URLs."""
    with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS, thread_name_prefix="prelabel") as pool:
        return list(pool.map(lambda pair: predict_text(urls[pair[0] % len(urls)], pair[1]), enumerate(texts)))

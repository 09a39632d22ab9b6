"""The import's read-ahead thread (pure logic)."""

import itertools
import threading

import pytest

from aiplatform.storage import StorageError
from datasets.services import _read_ahead


def test_items_arrive_in_order_and_the_producers_error_is_raised_to_the_consumer():
    def source():
        yield 1
        yield 2
        raise StorageError("Cannot access s3://b/m: object does not exist.")

    received = []
    with pytest.raises(StorageError, match="does not exist"):
        for item in _read_ahead(source()):
            received.append(item)
    assert received == [1, 2]


def test_a_consumer_that_stops_early_stops_the_thread():
    reader = _read_ahead(itertools.count())  # endless
    assert [next(reader) for _ in range(3)] == [0, 1, 2]
    reader.close()
    assert not any(thread.name == "import-read-ahead" for thread in threading.enumerate())

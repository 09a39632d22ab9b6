"""The manifest reader and writer (pure logic)."""

import itertools
import json

from datasets.manifest import ManifestLineError, ManifestSample, read_manifest, write_manifest


def test_writer_and_reader_round_trip():
    samples = [
        ManifestSample(
            source="s3://b/1.jpg", usage="TRAIN", id="1", property={"width": 10, "height": 8},
            annotation=[{"name": "cat", "type": "modelarts/image_classification", "annotated-by": "alice",
                         "creation-time": "2026-11-23 10:00:00", "confidence": 0.5}],
        ),
        ManifestSample(source="s3://b/2.jpg"),
        ManifestSample(source="content://ein Text ünïcode", annotation=[
            {"name": "PER", "type": "modelarts/text_entity",
             "property": {"@modelarts:start_index": 0, "@modelarts:end_index": 3}},
        ]),
    ]
    text = b"".join(write_manifest(samples, lines_per_chunk=2))
    assert text.count(b"\n") == 3
    assert json.loads(text.splitlines()[1]) == {"source": "s3://b/2.jpg", "annotation": []}
    read = [item for _, item in read_manifest(text.splitlines())]
    assert read == samples


def test_bad_lines_are_reported_with_their_number_and_good_lines_still_read():
    lines = [
        b'{"source": "s3://b/1.jpg"}',
        b"not json",
        b"",
        b'{"usage": "TRAIN"}',
        b'{"source": "s3://b/2.jpg", "usage": "SOMETIMES"}',
        b'["a list"]',
        b'{"source": "s3://b/3.jpg", "annotation": [{"type": "modelarts/image_classification"}]}',
        b'{"source": "s3://b/4.jpg", "usage": "eval"}',
    ]
    results = list(read_manifest(lines))
    assert [number for number, _ in results] == [1, 2, 4, 5, 6, 7, 8]
    errors = {number: item.reason for number, item in results if isinstance(item, ManifestLineError)}
    assert set(errors) == {2, 4, 5, 6, 7}
    assert "not valid JSON" in errors[2]
    assert "'source' is required" in errors[4]
    assert "'usage' must be one of" in errors[5]
    assert "JSON object" in errors[6]
    assert "needs a 'name'" in errors[7]
    assert results[-1][1].usage == "EVAL"


def test_reader_streams_and_never_reads_ahead():
    endless = (b'{"source": "s3://b/%d.jpg"}' % n for n in itertools.count())
    first_three = list(itertools.islice(read_manifest(endless), 3))
    assert [item.source for _, item in first_three] == ["s3://b/0.jpg", "s3://b/1.jpg", "s3://b/2.jpg"]


def test_writer_yields_bounded_chunks():
    samples = (ManifestSample(source=f"s3://b/{n}.jpg") for n in range(2500))
    chunks = list(write_manifest(samples, lines_per_chunk=1000))
    assert [chunk.count(b"\n") for chunk in chunks] == [1000, 1000, 500]


def test_numbers_beyond_64_bits_round_trip_exactly():
    big = 123456789012345678901234567890
    line = json.dumps({"source": "s3://b/1.jpg", "id": 98765432109876543210, "property": {"n": big, "x": 0.5}})
    (_, sample), = read_manifest([line.encode()])
    assert sample.property == {"n": big, "x": 0.5} and sample.id == "98765432109876543210"
    (written,) = list(write_manifest([sample]))
    assert json.loads(written) == {"source": "s3://b/1.jpg", "id": "98765432109876543210",
                                   "property": {"n": big, "x": 0.5}, "annotation": []}


def test_a_byte_order_mark_is_skipped_and_nan_is_refused():
    lines = [b'\xef\xbb\xbf{"source": "s3://b/1.jpg"}', b'{"source": "s3://b/2.jpg", "property": {"x": NaN}}',
             b'{"source": "s3://b/3.jpg", "id": 1234567890123456789012, "property": {"x": Infinity}}']
    results = [result for _, result in read_manifest(lines)]
    assert results[0].source == "s3://b/1.jpg"
    assert all(isinstance(result, ManifestLineError) and "not valid JSON" in result.reason for result in results[1:])

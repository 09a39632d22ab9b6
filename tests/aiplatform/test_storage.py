"""Object storage: the S3 backend against a local S3 server over HTTP, and the local directory."""

import urllib.request

import pytest

from aiplatform.storage import StorageError, parse_uri, storage_for


@pytest.fixture(params=["s3", "file"])
def bucket_uri(request):
    """A fresh bucket on each backend."""
    if request.param == "s3":
        client = request.getfixturevalue("s3")
        client.create_bucket(Bucket="roundtrip")
        yield "s3://roundtrip"
        for item in client.list_objects_v2(Bucket="roundtrip").get("Contents", []):
            client.delete_object(Bucket="roundtrip", Key=item["Key"])
        client.delete_bucket(Bucket="roundtrip")
    else:
        root = request.getfixturevalue("local_root")
        (root / "roundtrip").mkdir()
        yield "file://roundtrip"


def test_write_list_read_delete_round_trip(bucket_uri):
    storage = storage_for(bucket_uri)
    storage.write(f"{bucket_uri}/data/b.txt", [b"first\r\nsec", b"ond\n", b"third"])
    storage.write(f"{bucket_uri}/data/a.txt", [b"x"])
    storage.write(f"{bucket_uri}/other/c.txt", [b"y"])
    listed = list(storage.list(f"{bucket_uri}/data/"))
    assert [o.uri for o in listed] == [f"{bucket_uri}/data/a.txt", f"{bucket_uri}/data/b.txt"]
    assert listed[1].size == 19
    assert list(storage.read_lines(f"{bucket_uri}/data/b.txt")) == [b"first", b"second", b"third"]
    storage.delete(f"{bucket_uri}/data/a.txt")
    storage.delete(f"{bucket_uri}/data/never-there.txt")
    assert [o.uri for o in storage.list(f"{bucket_uri}/data/")] == [f"{bucket_uri}/data/b.txt"]


def test_reading_what_is_not_there_names_the_reason(bucket_uri):
    storage = storage_for(bucket_uri)
    with pytest.raises(StorageError, match="does not exist"):
        list(storage.read_lines(f"{bucket_uri}/missing.manifest"))
    scheme = bucket_uri.partition("://")[0]
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        list(storage_for(f"{scheme}://no-such-bucket/x").list(f"{scheme}://no-such-bucket/x/"))


def test_large_objects_are_uploaded_in_parts(s3):
    s3.create_bucket(Bucket="big")
    part = b"0123456789abcdef" * 65536  # 1 MiB
    size = storage_for("s3://big/blob").write("s3://big/blob", (part for _ in range(17)))
    assert size == 17 * len(part)
    head = s3.head_object(Bucket="big", Key="blob")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3")  # 8 MiB + 8 MiB + 1 MiB
    assert sum(len(c) for c in storage_for("s3://big/blob").read_chunks("s3://big/blob")) == size


def test_obs_uris_are_served_by_the_s3_backend(s3):
    s3.create_bucket(Bucket="obs-bucket")
    storage_for("obs://obs-bucket/k").write("obs://obs-bucket/k", [b"hello"])
    assert s3.get_object(Bucket="obs-bucket", Key="k")["Body"].read() == b"hello"


def test_s3_download_links_are_presigned(s3):
    s3.create_bucket(Bucket="links")
    storage = storage_for("s3://links/file.txt")
    storage.write("s3://links/file.txt", [b"content"])
    url = storage.download_url("s3://links/file.txt", expires_in=60)
    assert "Signature=" in url or "X-Amz-Signature=" in url
    assert "test-secret-key" not in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"content"


@pytest.mark.django_db
def test_local_download_links_are_signed(local_root, anonymous_client):
    (local_root / "links").mkdir()
    storage = storage_for("file://links/file.txt")
    storage.write("file://links/file.txt", [b"content"])
    url = storage.download_url("file://links/file.txt")
    response = anonymous_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"content"
    assert anonymous_client.get(url[:-3] + "xyz").status_code == 404


def test_unreachable_endpoint_fails_with_the_reason_and_no_secret(s3, settings):
    settings.OBJECT_STORAGE_ENDPOINT_URL = "http://127.0.0.1:1"
    with pytest.raises(StorageError) as caught:
        list(storage_for("s3://any/x").list("s3://any/x/"))
    assert "Could not connect" in str(caught.value)
    assert "test-secret-key" not in str(caught.value) and "test-access-key" not in str(caught.value)


@pytest.mark.parametrize("uri", ["http://x/y", "s3://", "bucket/key", "file://b/../etc/passwd", ""])
def test_malformed_uris_are_refused(uri):
    with pytest.raises(StorageError):
        parse_uri(uri)

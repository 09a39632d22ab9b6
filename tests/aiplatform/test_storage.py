"""Object storage: the S3 backend against a local S3 server over HTTP, and the local directory."""

import urllib.request

import pytest

from aiplatform.storage import StorageError, parse_uri, platform_storage


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
    storage = platform_storage(bucket_uri)
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
    storage = platform_storage(bucket_uri)
    with pytest.raises(StorageError, match="does not exist"):
        list(storage.read_lines(f"{bucket_uri}/missing.manifest"))
    scheme = bucket_uri.partition("://")[0]
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        list(platform_storage(f"{scheme}://no-such-bucket/x").list(f"{scheme}://no-such-bucket/x/"))


def test_large_objects_are_uploaded_in_parts(s3):
    s3.create_bucket(Bucket="big")
    part = b"0123456789abcdef" * 65536  # 1 MiB
    size = platform_storage("s3://big/blob").write("s3://big/blob", (part for _ in range(17)))
    assert size == 17 * len(part)
    head = s3.head_object(Bucket="big", Key="blob")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3")  # 8 MiB + 8 MiB + 1 MiB
    assert sum(len(c) for c in platform_storage("s3://big/blob").read_chunks("s3://big/blob")) == size


def test_obs_uris_are_served_by_the_s3_backend(s3):
    s3.create_bucket(Bucket="obs-bucket")
    platform_storage("obs://obs-bucket/k").write("obs://obs-bucket/k", [b"hello"])
    assert s3.get_object(Bucket="obs-bucket", Key="k")["Body"].read() == b"hello"


def test_s3_download_links_are_presigned(s3):
    s3.create_bucket(Bucket="links")
    storage = platform_storage("s3://links/file.txt")
    storage.write("s3://links/file.txt", [b"content"])
    url = storage.download_url("s3://links/file.txt", expires_in=60)
    assert "Signature=" in url or "X-Amz-Signature=" in url
    assert "test-secret-key" not in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"content"


def test_unreachable_endpoint_fails_with_the_reason_and_no_secret(s3, settings):
    settings.OBJECT_STORAGE_ENDPOINT_URL = "http://127.0.0.1:1"
    with pytest.raises(StorageError) as caught:
        list(platform_storage("s3://any/x").list("s3://any/x/"))
    assert "could not be reached" in str(caught.value)
    # Neither the credentials nor the platform's internal endpoint are told to whoever reads the error.
    for secret in ("test-secret-key", "test-access-key", "127.0.0.1:1"):
        assert secret not in str(caught.value)


@pytest.mark.parametrize("uri", [
    "http://x/y", "s3://", "bucket/key", "file://b/../etc/passwd", "", "file://bucket//etc/passwd",
    "file://b/a//c", "file://b/./x", "file://../x", "file://./x", "file://b/x\x00y", "file://b/x\ny", "s3://b/a/../../c",
    "file://.hidden/x", "file://b%2F..%2Fc/x",
])
def test_malformed_uris_are_refused(uri):
    with pytest.raises(StorageError):
        parse_uri(uri)


@pytest.mark.parametrize("uri", ["file://b", "file://b/", "file://b/a/", "s3://b/a/b.txt", "obs://my.bucket/x y/z"])
def test_well_formed_uris_are_taken(uri):
    assert parse_uri(uri).bucket in ("b", "my.bucket")


def test_keys_cannot_reach_outside_the_bucket(local_root, tmp_path):
    """An absolute key once replaced the storage root when joined: exports wrote and imports read
    anywhere on the host."""
    (local_root / "b").mkdir()
    secret = tmp_path / "outside.txt"
    secret.write_text("host file")
    storage = platform_storage("file://b/x")
    for uri in (f"file://b/{secret}", f"file://b//{secret}", "file://b/../outside.txt"):
        with pytest.raises(StorageError):
            list(storage.read_chunks(uri))
        with pytest.raises(StorageError):
            storage.write(uri, [b"overwritten"])
    assert secret.read_text() == "host file"


def test_symbolic_links_in_a_bucket_are_not_followed(local_root, tmp_path):
    """Links that sandboxed code (or anyone) leaves in a location never lead out of it: not as an
    object, not as a folder along the path, not in a listing, not as a write target."""
    bucket = local_root / "b"
    (bucket / "data").mkdir(parents=True)
    (bucket / "data" / "real.txt").write_text("mine")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    (bucket / "data" / "link.txt").symlink_to(outside / "secret.txt")
    (bucket / "dirlink").symlink_to(outside)
    storage = platform_storage("file://b/")
    with pytest.raises(StorageError, match="symbolic link"):
        list(storage.read_chunks("file://b/data/link.txt"))
    with pytest.raises(StorageError, match="symbolic link"):
        list(storage.read_chunks("file://b/dirlink/secret.txt"))
    with pytest.raises(StorageError, match="symbolic link"):
        storage.write("file://b/dirlink/planted.txt", [b"x"])
    assert [o.uri for o in storage.list("file://b/")] == ["file://b/data/real.txt"]
    assert list(storage.list("file://b/dirlink/")) == []
    storage.write("file://b/data/link.txt", [b"x"])  # replaces the link itself, never what it points to
    assert not (bucket / "data" / "link.txt").is_symlink()
    assert (outside / "secret.txt").read_text() == "not yours"
    assert not (outside / "planted.txt").exists()


def test_a_fifo_in_a_bucket_is_refused_without_waiting_for_a_writer(local_root):
    """Sandboxed code can make a FIFO in its own location; reading it must not hang the reader."""
    import os

    (local_root / "b").mkdir()
    os.mkfifo(local_root / "b" / "manifest")
    storage = platform_storage("file://b/")
    with pytest.raises(StorageError, match="not an object"):
        list(storage.read_lines("file://b/manifest"))
    assert list(storage.list("file://b/")) == []  # listings skip what is not a regular file

"""Imports from an uploaded archive (.zip, .tar, .tar.gz, .tgz): the archive is unpacked into the
workspace's own location, under `imports/<task id>/`, and imported from there in its format; the
unpacked files are the samples' sources.

Every member is checked before anything is written, and the archive is refused as a whole (nothing
written, nothing imported) when one is unsafe: an absolute path, a `.` or `..` segment, a link, a
device or another special file, more members or more bytes than the caps (a zip bomb declares
small sizes; the bytes are counted as they are unpacked, and a lie stops the unpacking and removes
what it wrote)."""

import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from aiplatform.storage import ObjectStorage, StorageError, parse_uri

from .formats import SourceError

ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tar.gz", ".tgz")
# Defaults of the caps, which settings may lower or raise (DATASET_ARCHIVE_*).
MAX_ARCHIVE_BYTES = 8 * 1024 ** 3
MAX_UNPACKED_BYTES = 16 * 1024 ** 3
MAX_MEMBERS = 1_000_000
COPY_CHUNK = 1024 * 1024


def is_archive(uri: str) -> bool:
    return uri.lower().endswith(ARCHIVE_EXTENSIONS)


def _cap(name: str, default: int) -> int:
    return getattr(settings, f"DATASET_ARCHIVE_{name}", default)


@dataclass(frozen=True)
class Member:
    name: str
    size: int


def _safe_name(name: str) -> str:
    """The member's path as a relative key; SourceError for one that could leave the folder."""
    cleaned = name.replace("\\", "/")
    segments = cleaned.split("/")
    if cleaned.startswith("/") or (len(segments[0]) == 2 and segments[0][1] == ":"):
        raise SourceError(f"The archive is refused: member '{name[:200]}' has an absolute path.")
    if any(segment in (".", "..") for segment in segments):
        raise SourceError(f"The archive is refused: member '{name[:200]}' has a '.' or '..' segment.")
    return "/".join(segment for segment in segments if segment)


def _members(archive, kind: str) -> list[tuple[object, Member]]:
    """Every file member, checked; directories are skipped, anything else refuses the archive."""
    found = []
    total = 0
    if kind == "zip":
        entries = [(info, info.filename, info.is_dir(), info.file_size, _zip_special(info))
                   for info in archive.infolist()]
    else:
        entries = [(info, info.name, info.isdir(), info.size, not (info.isfile() or info.isdir()))
                   for info in archive.getmembers()]
    for entry, name, directory, size, special in entries:
        key = _safe_name(name)
        if special:
            raise SourceError(f"The archive is refused: member '{name[:200]}' is a link or a special file; "
                              "only files and folders are unpacked.")
        if directory or not key:
            continue
        total += size
        found.append((entry, Member(key, size)))
        if len(found) > _cap("MAX_MEMBERS", MAX_MEMBERS):
            raise SourceError(f"The archive is refused: it has more than {_cap('MAX_MEMBERS', MAX_MEMBERS):,} files.")
        if total > _cap("MAX_UNPACKED_BYTES", MAX_UNPACKED_BYTES):
            raise SourceError(f"The archive is refused: its files come to more than "
                              f"{_cap('MAX_UNPACKED_BYTES', MAX_UNPACKED_BYTES):,} bytes unpacked.")
    return found


def _zip_special(info: zipfile.ZipInfo) -> bool:
    # A Unix file type that is neither a regular file nor a folder: a symbolic link, a device, a
    # FIFO (many zip writers set permissions only, no type: those are files).
    return (info.external_attr >> 16) & 0o170000 not in (0, 0o100000, 0o040000)


def unpack(*, storage: ObjectStorage, uri: str, target: ObjectStorage, target_uri: str) -> list[str]:
    """Unpacks the archive at `uri` under the folder `target_uri` (ending in '/'); returns the
    URIs written. SourceError (nothing left written) when the archive is refused."""
    with tempfile.TemporaryFile() as local:
        size = 0
        for chunk in storage.read_chunks(uri):
            size += len(chunk)
            if size > _cap("MAX_ARCHIVE_BYTES", MAX_ARCHIVE_BYTES):
                raise SourceError(f"The archive is refused: it is larger than "
                                  f"{_cap('MAX_ARCHIVE_BYTES', MAX_ARCHIVE_BYTES):,} bytes.")
            local.write(chunk)
        local.seek(0)
        kind = "zip" if uri.lower().endswith(".zip") else "tar"
        try:
            archive = zipfile.ZipFile(local) if kind == "zip" else tarfile.open(fileobj=local, mode="r:*")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise SourceError(f"'{uri}' is not a readable {kind} archive: {exc}.") from None
        with archive:
            members = _members(archive, kind)
            written = []
            budget = [_cap("MAX_UNPACKED_BYTES", MAX_UNPACKED_BYTES)]
            try:
                for entry, member in members:
                    destination = parse_uri(target_uri + member.name).uri
                    handle = archive.open(entry) if kind == "zip" else archive.extractfile(entry)
                    with handle:
                        target.write(destination, _limited(handle, member, budget))
                    written.append(destination)
            except (SourceError, StorageError, zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
                for done in written:
                    target.delete(done)
                if isinstance(exc, SourceError | StorageError):
                    raise
                raise SourceError(f"'{uri}' could not be unpacked: {exc}.") from None
    return written


def _limited(handle, member: Member, budget: list[int]) -> Iterator[bytes]:
    """The member's bytes, stopped when they pass what it declared or what the archive may unpack."""
    count = 0
    while chunk := handle.read(COPY_CHUNK):
        count += len(chunk)
        budget[0] -= len(chunk)
        if count > member.size or budget[0] < 0:
            raise SourceError(f"The archive is refused: member '{member.name[:200]}' unpacks to more bytes than "
                              "it declares or than the archive may hold (a zip bomb?).")
        yield chunk


def member_for(kind: str, written: list[str], folder: str, member: str | None) -> str:
    """What the import reads after unpacking: the named member, the one file of the format's
    extension, or the folder itself (prefix, voc, yolo, auto without a member)."""
    if member:
        uri = parse_uri(folder + _safe_name(member)).uri
        if uri not in written:
            raise SourceError(f"The archive has no file '{member}'.")
        return uri
    extensions = {"manifest": (".manifest", ".jsonl"), "coco": (".json",), "label_studio": (".json",),
                  "csv": (".csv", ".tsv")}.get(kind)
    if extensions is None:
        return folder
    candidates = [uri for uri in written if uri.lower().endswith(extensions)]
    if len(candidates) != 1:
        names = ", ".join(uri[len(folder):] for uri in candidates[:10]) or "none"
        raise SourceError(f"A {kind} import of an archive reads one {'/'.join(extensions)} file; the archive has "
                          f"{len(candidates)} ({names}): name one in the option member.")
    return candidates[0]


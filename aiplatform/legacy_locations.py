"""Grants, made by data migrations, of the locations that rows written before storage was scoped
per workspace name, so that existing data keeps working.

A location goes to the workspace whose row names it unless it overlaps a location already granted
to another account: that is a tenant naming another's data (what scoping ends), and it is left out
and printed. Callers grant each dataset's own folder first, so the owner of data keeps it. The
platform's own workspace area is never granted, nor a location longer than a grant can hold."""

from collections import defaultdict

from .storage import StorageError, in_platform_area, parse_uri

URI_LENGTH = 1024  # StorageGrant.uri


def _overlap(a: str, b: str) -> bool:
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _covers(prefix: str, uri: str) -> bool:
    base = prefix.rstrip("/")
    return uri.rstrip("/") == base or uri.startswith(base + "/")


def _bucket(uri: str) -> tuple[str, str] | None:
    try:
        location = parse_uri(uri)
    except StorageError:
        return None
    return None if in_platform_area(location) else (location.scheme, location.bucket)


def grant_locations(apps, rows, *, note: str) -> None:
    """`rows`: (workspace id, uri, read only, what names it), oldest first; the grants made say
    `note` (which migration made them, so that going back takes only its own)."""
    grant_model = apps.get_model("aiplatform", "StorageGrant")
    accounts = dict(apps.get_model("aiplatform", "Workspace").objects.values_list("id", "account_id"))
    # Granted so far, by bucket: only a row's own bucket is compared with it.
    granted = defaultdict(list)  # (scheme, bucket) -> [(account, workspace, uri, read only)]
    for workspace_id, uri, read_only in grant_model.objects.values_list("workspace_id", "uri", "read_only"):
        bucket = _bucket(uri)
        if bucket is not None:
            granted[bucket].append((accounts[workspace_id], workspace_id, uri, read_only))
    for workspace_id, uri, read_only, what in rows:
        bucket = _bucket(uri) if uri and "://" in uri else None
        if bucket is None:
            continue
        if len(uri) > URI_LENGTH:
            print(f"\n  not granted: {uri[:80]}… ({what}) is longer than a grant holds")
            continue
        account = accounts[workspace_id]
        near = granted[bucket]
        if any(a != account and _overlap(uri, u) for a, _, u, _ in near):
            print(f"\n  not granted: {uri} ({what}) overlaps another account's data")
            continue
        if any(w == workspace_id and _covers(u, uri) and (read_only or not ro) for _, w, u, ro in near):
            continue  # inside what the workspace has already
        grant_model.objects.update_or_create(
            workspace_id=workspace_id, uri=uri, defaults={"read_only": read_only, "note": f"{note}: {what}"[:300]})
        near.append((account, workspace_id, uri, read_only))


def revoker(note: str):
    """The reverse of a migration that granted with `note`: its own grants go."""
    def revoke(apps, schema_editor):
        apps.get_model("aiplatform", "StorageGrant").objects.filter(note__startswith=f"{note}:").delete()
    return revoke

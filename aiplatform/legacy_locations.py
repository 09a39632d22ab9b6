"""Grants, made by data migrations, of the locations that rows written before storage was scoped
per workspace name, so that existing data keeps working.

A location goes to the workspace whose row names it unless it overlaps a location already granted
to another account: that is a tenant naming another's data (what scoping ends), and it is left out
and printed. Callers grant each dataset's own folder first, so the owner of data keeps it."""

from collections import defaultdict

NOTE = "migrated"


def _overlap(a: str, b: str) -> bool:
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _covers(prefix: str, uri: str) -> bool:
    base = prefix.rstrip("/")
    return uri.rstrip("/") == base or uri.startswith(base + "/")


def grant_locations(apps, rows) -> None:
    """`rows`: (workspace id, uri, read only, what names it), oldest first."""
    grant_model = apps.get_model("aiplatform", "StorageGrant")
    accounts = dict(apps.get_model("aiplatform", "Workspace").objects.values_list("id", "account_id"))
    by_account, by_workspace = defaultdict(list), defaultdict(list)
    for workspace_id, uri, read_only in grant_model.objects.values_list("workspace_id", "uri", "read_only"):
        by_account[accounts[workspace_id]].append(uri)
        by_workspace[workspace_id].append((uri, read_only))
    for workspace_id, uri, read_only, what in rows:
        if not uri or "://" not in uri:
            continue
        account = accounts[workspace_id]
        if any(a != account and any(_overlap(uri, u) for u in uris) for a, uris in by_account.items()):
            print(f"\n  not granted: {uri} ({what}) overlaps another account's data")
            continue
        if any(_covers(u, uri) and (read_only or not ro) for u, ro in by_workspace[workspace_id]):
            continue  # inside what the workspace has already
        grant_model.objects.update_or_create(
            workspace_id=workspace_id, uri=uri, defaults={"read_only": read_only, "note": f"{NOTE}: {what}"[:300]})
        by_account[account].append(uri)
        by_workspace[workspace_id].append((uri, read_only))


def revoke_locations(apps, schema_editor) -> None:
    apps.get_model("aiplatform", "StorageGrant").objects.filter(note__startswith=NOTE).delete()

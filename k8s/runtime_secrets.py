"""Secrets a workload's replicas receive at submit time, never kept in its env (which every
member of the workspace reads): a training job's metrics token, a benchmark run's result token,
credentials for the storage locations a workload may reach.

The apps that know them register a provider, for one kind of workload or for every kind, in their
AppConfig.ready(); k8s.services asks every provider that applies when it submits a workload. The
compute backend hands the values over as a Kubernetes Secret referenced by the pods, or, on the
local backend, straight into the sandboxed process's environment."""

import re
from collections.abc import Callable, Mapping

from resourcepools.models import Workload

SecretProvider = Callable[[Workload], Mapping[str, str]]

# An env name that is also a valid Secret key.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_providers: dict[tuple[str | None, SecretProvider], None] = {}


def register_secret_provider(provider: SecretProvider, *, kind: str | None = None) -> None:
    """`provider(workload)` gives {env name: value} for workloads of `kind` (None: every kind).
    Registering the same provider again changes nothing."""
    _providers[kind, provider] = None


def runtime_secrets(workload: Workload) -> dict[str, str]:
    """Every registered value for this workload; two providers may not give the same name. A
    provider raises aiplatform.storage.StorageError for secrets it cannot make (the workload
    fails with the reason) and k8s.backend.BackendUnavailable for an outage (the submit is retried)."""
    values: dict[str, str] = {}
    for kind, provider in list(_providers):
        if kind is not None and kind != workload.kind:
            continue
        for name, value in provider(workload).items():
            if not NAME.fullmatch(name):
                raise ValueError(f"{provider.__qualname__} gave the env name {name!r}; use letters, digits and _.")
            if name in values:
                raise ValueError(f"Two secret providers give {name} for {workload.kind} workloads.")
            values[name] = str(value)
    return values

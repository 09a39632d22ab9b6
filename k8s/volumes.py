"""Persistent volumes of workloads: the apps whose work keeps a folder across runs (a notebook's
storage) register a provider for their kind in AppConfig.ready(); k8s.services asks it when it
builds a workload's spec. The volume belongs to the app's resource, not to one workload: the
backends create it on submit and delete it only when asked (delete_volume)."""

import re
from collections.abc import Callable

from resourcepools.models import Workload

from .backend import VolumeSpec

VolumeProvider = Callable[[Workload], VolumeSpec | None]

# A DNS-1123 label: a PersistentVolumeClaim's name, and a folder name locally.
NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")

_providers: dict[str, VolumeProvider] = {}


def register_volume_provider(provider: VolumeProvider, *, kind: str) -> None:
    _providers[kind] = provider


def workload_volume(workload: Workload) -> VolumeSpec | None:
    provider = _providers.get(workload.kind)
    volume = provider(workload) if provider else None
    if volume is not None and not NAME.fullmatch(volume.name):
        raise ValueError(f"{provider.__qualname__} gave the volume name {volume.name!r}; use a DNS-1123 label.")
    return volume

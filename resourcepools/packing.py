"""How a gang's replicas are packed onto nodes: one rule, used by admission (on the pool's free
capacity) and by workload creation (on the empty pool, to refuse a gang that could never fit).

Pure functions over plain data; no queries."""

from dataclasses import dataclass

from .models import AcceleratorKind

UNITS = {AcceleratorKind.NVIDIA_GPU: "NVIDIA GPUs", AcceleratorKind.ASCEND_NPU: "Ascend NPUs"}


@dataclass
class NodeState:
    id: int
    flavor_id: int
    vcpus: int
    memory_gib: int
    accelerators: int

    def fits(self, demand: "PodSetDemand") -> bool:
        return (
            self.flavor_id == demand.flavor_id
            and self.vcpus >= demand.vcpus
            and self.memory_gib >= demand.memory_gib
            and self.accelerators >= demand.accelerators
        )

    def take(self, demand: "PodSetDemand", sign: int = 1) -> None:
        self.vcpus -= sign * demand.vcpus
        self.memory_gib -= sign * demand.memory_gib
        self.accelerators -= sign * demand.accelerators


@dataclass(frozen=True)
class PodSetDemand:
    id: int
    name: str
    replicas: int
    flavor_id: int
    flavor_name: str
    accelerator_kind: str
    vcpus: int
    memory_gib: int
    accelerators: int


@dataclass(frozen=True)
class Placement:
    pod_set_id: int
    replica: int
    node_id: int
    vcpus: int
    memory_gib: int
    accelerators: int


def pack(pod_sets, nodes: list[NodeState]) -> tuple[list[tuple[NodeState, PodSetDemand, Placement]], bool]:
    """Best fit, replica by replica, in pod set order: each replica goes to the fitting node with
    the least left, so whole nodes stay free. Stops at the first replica that fits nowhere.
    Returns what was taken (the nodes are changed) and whether every replica was placed."""
    taken: list[tuple[NodeState, PodSetDemand, Placement]] = []
    for demand in pod_sets:
        for replica in range(demand.replicas):
            candidates = [n for n in nodes if n.fits(demand)]
            if not candidates:
                return taken, False
            node = min(candidates, key=lambda n: (n.accelerators, n.vcpus, n.memory_gib, n.id))
            node.take(demand)
            taken.append((node, demand, Placement(
                demand.id, replica, node.id, demand.vcpus, demand.memory_gib, demand.accelerators)))
    return taken, True


def place_gang(pod_sets, nodes: list[NodeState]) -> list[Placement] | None:
    """All or nothing: the placements of every replica, or None with the nodes left as they were."""
    taken, complete = pack(pod_sets, nodes)
    if not complete:
        for node, demand, _ in taken:
            node.take(demand, sign=-1)
        return None
    return [placement for _, _, placement in taken]

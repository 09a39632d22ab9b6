"""What the gateway (gateway/) needs to know of a service that only the inference app knows."""

from .models import DeploymentMode, Service


def entry_role(service: Service) -> str:
    """The role that takes clients' requests: the router of a disaggregated service, else the
    server (the leader of a multi-node instance)."""
    if service.mode == DeploymentMode.DISAGGREGATED:
        return "router"
    names = [p.name for p in service.workload.pod_sets.all()]
    return "server" if "server" in names else "server-leader"

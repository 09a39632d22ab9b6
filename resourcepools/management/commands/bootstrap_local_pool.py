"""A public pool of CPU nodes standing for this machine, so that workloads run out of the box under
`make run` (the local compute backend runs them as child processes): enough nodes for a training
job, a service and its benchmark at once (LOCAL_POOL_NODES)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from resourcepools import services
from resourcepools.models import Flavor, ResourcePool


class Command(BaseCommand):
    help = "Create the public pool 'local' with LOCAL_POOL_NODES cpu.2u8g nodes, or add nodes up to that many."

    @transaction.atomic
    def handle(self, *args, **options):
        wanted = settings.LOCAL_POOL_NODES
        flavor = Flavor.objects.filter(name="cpu.2u8g").first() or services.save_flavor(
            name="cpu.2u8g", vcpus=2, memory_gib=8
        )
        pool = ResourcePool.objects.filter(kind="public", name="local").first()
        if pool is None:
            pool = services.create_pool(name="local", kind="public", description="This machine",
                                        nodes=[{"name": "local-node", "flavor": flavor}])
        names = set(pool.nodes.values_list("name", flat=True))
        for number in range(2, wanted + 1):
            if len(names) >= wanted:
                break
            if f"local-node-{number}" not in names:
                services.add_node(pool=pool, name=f"local-node-{number}", flavor=flavor)
                names.add(f"local-node-{number}")
        self.stdout.write(f"  resource pool  local (public, {len(names)} nodes of flavor cpu.2u8g)")

"""A public pool with one CPU node standing for this machine, so that workloads run out of the
box under `make run` (the local compute backend runs them as child processes)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from resourcepools import services
from resourcepools.models import Flavor, ResourcePool


class Command(BaseCommand):
    help = "Create the public pool 'local' with one cpu.2u8g node if it does not exist."

    @transaction.atomic
    def handle(self, *args, **options):
        if not ResourcePool.objects.filter(kind="public", name="local").exists():
            flavor = Flavor.objects.filter(name="cpu.2u8g").first() or services.save_flavor(
                name="cpu.2u8g", vcpus=2, memory_gib=8
            )
            services.create_pool(name="local", kind="public", description="This machine",
                                 nodes=[{"name": "local-node", "flavor": flavor}])
        self.stdout.write("  resource pool  local (public, 1 node of flavor cpu.2u8g)")

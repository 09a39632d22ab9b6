"""Billing for the embedded demo, so that the console's billing pages have something real to show:
published prices for the public pools' flavors that have none, and a first top-up of the demo
account. Run after bootstrap_demo and bootstrap_local_pool; running it again changes nothing."""

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from aiplatform.models import Account
from billing import services
from billing.models import LedgerEntry, LedgerKind, Price
from resourcepools.models import Flavor, PoolKind

# Per node-hour by vCPUs, with a month at 700 hours and a year at 10 months: a demo price list.
HOURLY_PER_VCPU = Decimal("0.50")
DEMO_TOP_UP = Decimal("1000.00")


class Command(BaseCommand):
    help = "Publish demo prices for unpriced public flavors and top up the demo account once."

    @transaction.atomic
    def handle(self, *args, **options):
        flavors = Flavor.objects.filter(nodes__pool__kind=PoolKind.PUBLIC, is_active=True).exclude(
            pk__in=Price.objects.values("flavor_id")).distinct()
        for flavor in flavors:
            hourly = HOURLY_PER_VCPU * flavor.vcpus + Decimal("5.00") * flavor.accelerators
            services.publish_price(flavor=flavor, pay_per_use_hourly=hourly, monthly=hourly * 700,
                                   yearly=hourly * 7000, input_tokens_per_million=Decimal("1.00"),
                                   output_tokens_per_million=Decimal("2.00"))
            self.stdout.write(f"  price          {flavor.name}: {hourly} CNY per node-hour")
        account = Account.objects.filter(name="demo").first()
        if account is not None and not LedgerEntry.objects.filter(account=account, kind=LedgerKind.TOP_UP).exists():
            services.top_up(account=account, amount=DEMO_TOP_UP, note="Demo credit")
            self.stdout.write(f"  balance        demo account topped up with {DEMO_TOP_UP} CNY")

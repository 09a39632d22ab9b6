"""Node-hour packages: offers, purchases and the check of packages about to expire."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform.models import Account

from .. import rules
from ..models import Charge, ChargeMode, LedgerKind, Package, PackageOffer, ResourceType
from .balance import _post, _require_funds, locked_billing_account
from .notifications import notify


@transaction.atomic
def save_package_offer(*, offer: PackageOffer | None = None, **fields) -> PackageOffer:
    offer = offer or PackageOffer()
    for name, value in fields.items():
        setattr(offer, name, value)
    offer.full_clean()
    offer.save()
    return offer


@transaction.atomic
def buy_package(*, account: Account, offer: PackageOffer, created_by=None, now: datetime | None = None) -> Package:
    now = now or timezone.now()
    if not offer.is_active:
        raise ValidationError({"offer": f"Package '{offer.name}' is no longer sold; choose an active offer."})
    billing = locked_billing_account(account_id=account.pk)
    _require_funds(billing=billing, amount=offer.price, currency=offer.currency, what=f"Package '{offer.name}'")
    package = Package(
        account=account, offer=offer, family=offer.family, node_seconds_total=offer.node_hours * 3600,
        price=offer.price, valid_from=now, valid_until=rules.term_end(now, offer.validity_months), purchased_at=now,
        created_by=created_by,
    )
    package.full_clean()
    package.save()
    key = f"package:{package.pk}:purchase"
    description = (f"{offer.node_hours} node-hours of {offer.family}, valid {package.valid_from:%Y-%m-%d %H:%M} "
                   f"to {package.valid_until:%Y-%m-%d %H:%M} UTC")
    _post(billing=billing, kind=LedgerKind.PACKAGE, amount=-offer.price, key=key, description=description,
          created_by=created_by, now=now)
    charge = Charge(account=account, period=rules.month_start(now), resource_type=ResourceType.PACKAGE,
                    resource_id=str(package.pk), resource_name=offer.name, mode=ChargeMode.PACKAGE, package=package,
                    unit="package", unit_price=offer.price, quantity=1, amount=offer.price, key=key,
                    description=description)
    charge.full_clean()
    charge.save()
    return package


def check_packages(*, now: datetime | None = None) -> int:
    """Warn once, 7 days before a package with quantity left expires."""
    now = now or timezone.now()
    warned = 0
    due = Package.objects.filter(expiry_warned=False, valid_until__gt=now, valid_until__lte=now + timedelta(days=7),
                                 node_seconds_used__lt=F("node_seconds_total")).select_related("offer")
    for package in due:
        with transaction.atomic():
            notify(account_id=package.account_id, kind="package_expiring",
                   subject=f"Package '{package.offer.name}' expires in 7 days or less",
                   message=f"{rules.node_hours(package.remaining_node_seconds)} node-hours of {package.family} are "
                           f"left and expire at "
                           f"{package.valid_until:%Y-%m-%d %H:%M} UTC; leftovers are not refunded.",
                   key=f"package:{package.pk}:expiring")
            Package.objects.filter(pk=package.pk).update(expiry_warned=True)
            warned += 1
    return warned

"""Billing notifications, left once per key and mailed to account admins when enabled."""

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from aiplatform.models import AccountMember

from .. import rating_store
from ..models import Notification
from ..rating_store import Notice


def notify(*, account_id, kind: str, subject: str, message: str, key: str) -> bool:
    """Leave a notification once per key; mail it to the account admins when enabled. Returns
    whether it is new."""
    return bool(notify_many(notices=[Notice(str(account_id), kind, subject, message, key)]))


def notify_many(*, notices: list[Notice]) -> list[Notice]:
    """Leave the notifications whose keys are new and mail those (when enabled); returns them.
    A key seen before, or left at the same time by another worker, is skipped by the database."""
    if not notices:
        return []
    notices = [n if type(n.account_id) is str else n._replace(account_id=str(n.account_id)) for n in notices]
    return _mail_new(notices=notices, created=_insert_new_notifications(notices=notices, now=timezone.now()))


def _mail_new(*, notices: list[Notice], created: set[str]) -> list[Notice]:
    """The notices whose keys were created, each key once, mailed to their accounts' admins when
    that is enabled."""
    new = [n for n in notices if n.key in created and not created.discard(n.key)]
    if new and settings.BILLING_EMAIL_NOTIFICATIONS:
        recipients = defaultdict(list)
        for account_id, email in AccountMember.objects.filter(
                account_id__in={n.account_id for n in new}, is_admin=True).values_list("account_id", "user__email"):
            if email:
                recipients[str(account_id)].append(email)
        for n in new:
            if recipients[n.account_id]:
                transaction.on_commit(lambda n=n, to=recipients[n.account_id]: send_mail(
                    n.subject, n.message, None, to, fail_silently=True))
    return new


@transaction.atomic(savepoint=False)  # several statements for very many: all or none
def _insert_new_notifications(*, notices: list[Notice], now: datetime) -> set[str]:
    """Insert the notices whose keys are new; returns their keys."""
    return rating_store.insert_new_notifications(notices=notices, now=now)


@transaction.atomic
def mark_notification_read(*, notification: Notification, now: datetime | None = None) -> Notification:
    if notification.read_at is None:
        notification.read_at = now or timezone.now()
        notification.save(update_fields=["read_at"])
    return notification

"""Publishes the changes gateway processes cache (invalidation.py), once they are committed."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from aiplatform.models import AccountMember, ApiKey, Membership
from inference.models import Service
from notebooks.models import Notebook
from resourcepools.services import workload_phase_changed

from . import invalidation
from .models import ServiceGateway


def _later(kind, ids):
    transaction.on_commit(lambda: invalidation.publish(kind, ids))


def _key_changed(sender, instance, **kwargs):
    _later(invalidation.KEY, [instance.prefix])


def _user_changed(sender, instance, **kwargs):
    _later(invalidation.USER, [instance.user_id])


def _service_changed(sender, instance, **kwargs):
    _later(invalidation.SERVICE, [instance.pk])


def _gateway_changed(sender, instance, **kwargs):
    _later(invalidation.SERVICE, [instance.service_id])


def _notebook_changed(sender, instance, **kwargs):
    _later(invalidation.NOTEBOOK, [instance.pk])  # a new run, or gone


def _phase_changed(sender, workload_ids, **kwargs):
    _later(invalidation.WORKLOAD, list(workload_ids))


def connect() -> None:
    for model, receiver in ((ApiKey, _key_changed), (Membership, _user_changed), (AccountMember, _user_changed),
                            (Service, _service_changed), (ServiceGateway, _gateway_changed),
                            (Notebook, _notebook_changed)):
        for signal in (post_save, post_delete):
            signal.connect(receiver, sender=model, weak=False, dispatch_uid=f"gateway.{model.__name__}.{signal}")
    workload_phase_changed.connect(_phase_changed, weak=False, dispatch_uid="gateway.workload_phase_changed")

"""Cost tags of workloads, for allocating a bill's costs."""


from django.db import transaction
from rest_framework.exceptions import ValidationError

from resourcepools.models import Workload

from ..models import CostTag


@transaction.atomic
def set_cost_tag(*, workspace, workload_id, key: str, value: str) -> CostTag:
    workload = Workload.objects.filter(pk=workload_id, workspace=workspace).first()
    if workload is None:
        raise ValidationError({"workload": "No such workload in this workspace; give one of its workload ids."})
    tag = CostTag.objects.filter(workload=workload, key=key).first() or CostTag(workload=workload, key=key)
    tag.value = value
    tag.full_clean()
    tag.save()
    return tag


@transaction.atomic
def delete_cost_tag(*, tag: CostTag) -> None:
    tag.delete()

from django.db.models import QuerySet

from resourcepools.models import Phase

from .models import Notebook


def notebooks(*, workspace) -> QuerySet[Notebook]:
    return Notebook.objects.filter(workspace=workspace).select_related("workload", "flavor", "pool", "created_by")


def running_notebooks() -> QuerySet[Notebook]:
    return Notebook.objects.filter(workload__phase=Phase.RUNNING).select_related("workload")

from django.contrib import admin

from aiplatform.admin import ServiceBackedAdmin, act

from . import services
from .models import Algorithm, MetricPoint, TrainingJob


@admin.register(Algorithm)
class AlgorithmAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "image", "distributed", "created_at"]
    list_filter = ["distributed"]
    search_fields = ["name", "image"]


@admin.register(TrainingJob)
class TrainingJobAdmin(ServiceBackedAdmin):
    """Jobs are created, copied and stopped through the training service: read-only here."""

    list_display = ["name", "workspace", "status", "reason", "algorithm", "flavor", "node_count", "created_at"]
    list_filter = ["workload__phase", "flavor"]
    list_select_related = ["workspace", "algorithm", "flavor", "workload"]
    search_fields = ["name", "workspace__name"]
    actions = ["stop"]

    @admin.display(description="status", ordering="workload__phase")
    def status(self, job):
        return job.workload.get_phase_display()

    @admin.display(description="reason")
    def reason(self, job):
        return job.workload.reason

    @admin.action(description="Stop the selected training jobs")
    def stop(self, request, queryset):
        act(self, request, queryset.select_related("workload"), done="Stopped (or stopping)",
            operation=lambda job: services.stop_training_job(job=job, stopped_by=request.user))


@admin.register(MetricPoint)
class MetricPointAdmin(admin.ModelAdmin):
    list_display = ["job", "name", "step", "value"]
    list_filter = ["name"]

from django.contrib import admin

from aiplatform.admin import ServiceBackedAdmin, act

from . import services
from .models import Model, Service


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "workspace", "runtime", "source", "parameters", "created_at"]
    list_filter = ["runtime", "source"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(ServiceBackedAdmin):
    """Services are deployed, updated and stopped through the inference service: read-only here."""

    list_display = ["name", "workspace", "status", "reason", "model", "pool", "flavor", "mode", "instance_count",
                    "created_at"]
    list_filter = ["workload__phase", "mode", "quantization"]
    list_select_related = ["workspace", "model", "pool", "flavor", "workload"]
    search_fields = ["name", "workspace__name"]
    actions = ["stop"]

    @admin.display(description="status", ordering="workload__phase")
    def status(self, service):
        return service.workload.get_phase_display() if service.workload else "stopped"

    @admin.display(description="reason")
    def reason(self, service):
        return service.workload.reason if service.workload else ""

    @admin.action(description="Stop the selected services")
    def stop(self, request, queryset):
        act(self, request, queryset.select_related("workload", "next_workload"), done="Stopped (or stopping)",
            operation=lambda service: services.stop_service(service=service, stopped_by=request.user))

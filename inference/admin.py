from django.contrib import admin

from .models import Model, Service


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "workspace", "runtime", "source", "parameters", "created_at"]
    list_filter = ["runtime", "source"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "model", "pool", "flavor", "mode", "instance_count", "created_at"]
    list_filter = ["mode", "quantization"]
    search_fields = ["name"]
    readonly_fields = ["workload", "next_workload", "plan", "launch"]

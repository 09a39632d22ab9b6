from django.contrib import admin

from .models import AnnotationTask, Dataset, DatasetVersion, ExportTask, ImportTask


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "type", "status", "sample_count", "labelled_count", "created_at"]
    list_filter = ["type", "status"]
    search_fields = ["name", "workspace__name"]
    list_select_related = ["workspace"]
    readonly_fields = ["sample_count", "labelled_count", "created_at", "updated_at"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "status", "sample_count", "created_at", "published_at"]
    list_filter = ["status"]
    search_fields = ["name", "dataset__name"]
    list_select_related = ["dataset"]


@admin.register(ImportTask)
class ImportTaskAdmin(admin.ModelAdmin):
    list_display = ["source_uri", "dataset", "kind", "status", "processed", "added", "skipped", "failed", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["dataset"]


@admin.register(ExportTask)
class ExportTaskAdmin(admin.ModelAdmin):
    list_display = ["target_uri", "dataset", "status", "sample_count", "created_at"]
    list_filter = ["status"]
    list_select_related = ["dataset"]


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "scope", "status", "created_at", "completed_at"]
    list_filter = ["status", "scope"]
    search_fields = ["name", "dataset__name"]
    list_select_related = ["dataset"]
    filter_horizontal = ["assignees"]

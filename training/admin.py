from django.contrib import admin

from .models import Algorithm, MetricPoint, TrainingJob


@admin.register(Algorithm)
class AlgorithmAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "image", "distributed", "created_at"]
    list_filter = ["distributed"]
    search_fields = ["name", "image"]


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "algorithm", "flavor", "node_count", "created_at"]
    list_select_related = ["workspace", "algorithm", "flavor"]
    search_fields = ["name"]
    readonly_fields = ["workload", "throughput"]


@admin.register(MetricPoint)
class MetricPointAdmin(admin.ModelAdmin):
    list_display = ["job", "name", "step", "value"]
    list_filter = ["name"]

from django import forms
from django.contrib import admin
from rest_framework.exceptions import ValidationError

from aiplatform.admin import ServiceBackedAdmin, act

from . import services
from .models import Allocation, Flavor, Node, PodSet, Quota, QuotaFlavor, ResourcePool, Workload, WorkloadEvent
from .services import check_pool_name_available


@admin.register(Flavor)
class FlavorAdmin(admin.ModelAdmin):
    list_display = ["name", "family", "vcpus", "memory_gib", "accelerator_kind", "accelerators", "is_active"]
    list_filter = ["accelerator_kind", "is_active"]
    search_fields = ["name", "family"]


class NodeInline(admin.TabularInline):
    model = Node
    extra = 0
    # Cordoning goes through the node service (NodeAdmin's actions), which kicks admission.
    readonly_fields = ["schedulable", "health"]
    show_change_link = True


class ResourcePoolForm(forms.ModelForm):
    class Meta:
        model = ResourcePool
        fields = ["name", "description", "kind", "account", "region", "availability_zone", "status",
                  "status_message"]

    def clean(self):
        data = super().clean()
        if self.instance._state.adding and not self.errors:
            try:
                check_pool_name_available(name=data["name"], kind=data["kind"], account=data.get("account"))
            except ValidationError as exc:
                raise forms.ValidationError({"name": exc.detail["name"]}) from None
        return data


@admin.register(ResourcePool)
class ResourcePoolAdmin(admin.ModelAdmin):
    form = ResourcePoolForm
    list_display = ["name", "kind", "account", "placement_label", "region", "status"]
    list_filter = ["kind", "status", "region"]
    search_fields = ["name", "placement_label", "account__name"]
    readonly_fields = ["placement_label"]
    inlines = [NodeInline]

    def get_readonly_fields(self, request, obj=None):
        # Nodes are labelled and work placed by the pool's label; name and kind stay as created.
        return [*self.readonly_fields, "name", "kind", "account"] if obj else self.readonly_fields


class QuotaFlavorInline(admin.TabularInline):
    model = QuotaFlavor
    extra = 0


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    """A workspace's queue in a pool: nominal shares (max_*), borrowing and lending limits, weight,
    and its shares per flavor."""

    list_display = ["workspace", "pool", "max_accelerators", "max_vcpus", "max_memory_gib", "max_workloads",
                    "borrowing_limit_accelerators", "lending_limit_accelerators", "weight"]
    list_filter = ["pool"]
    list_select_related = ["workspace", "pool"]
    inlines = [QuotaFlavorInline]


class PodSetInline(admin.TabularInline):
    model = PodSet
    extra = 0


class WorkloadEventInline(admin.TabularInline):
    model = WorkloadEvent
    extra = 0
    readonly_fields = ["created_at", "from_phase", "to_phase", "reason", "message"]
    can_delete = False


@admin.register(Node)
class NodeAdmin(ServiceBackedAdmin):
    """Cordoning goes through the node service, which kicks admission for the pool."""

    list_display = ["name", "pool", "flavor", "schedulable", "health"]
    list_filter = ["schedulable", "health", "pool"]
    search_fields = ["name", "pool__name"]
    list_select_related = ["pool", "flavor"]
    actions = ["cordon", "uncordon"]

    @admin.action(description="Cordon the selected nodes (no new work is placed there)")
    def cordon(self, request, queryset):
        act(self, request, queryset, operation=lambda node: services.update_node(node=node, schedulable=False),
            done="Cordoned")

    @admin.action(description="Uncordon the selected nodes")
    def uncordon(self, request, queryset):
        act(self, request, queryset, operation=lambda node: services.update_node(node=node, schedulable=True),
            done="Uncordoned")


@admin.register(Workload)
class WorkloadAdmin(ServiceBackedAdmin):
    """Phases change only through the transition service: read-only, stopped by an action."""

    list_display = ["name", "workspace", "pool", "kind", "priority", "phase", "reason", "queue_position",
                    "created_at"]
    list_filter = ["phase", "kind", "pool"]
    search_fields = ["name", "workspace__name"]
    list_select_related = ["workspace", "pool"]
    inlines = [PodSetInline, WorkloadEventInline]
    actions = ["stop"]

    @admin.action(description="Stop the selected workloads")
    def stop(self, request, queryset):
        act(self, request, queryset, done="Stopped (or stopping)",
            operation=lambda workload: services.stop_workload(workload=workload, stopped_by=request.user))


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ["workload", "pod_set", "replica", "node", "vcpus", "memory_gib", "accelerators"]
    list_select_related = ["workload", "pod_set", "node"]

    def has_change_permission(self, request, obj=None):
        return False

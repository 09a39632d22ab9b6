from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class K8sConfig(AppConfig):
    name = "k8s"
    verbose_name = "Compute backends"

    def ready(self):
        from aiplatform.locations import workload_storage_credentials
        from resourcepools.models import Node
        from resourcepools.services import workload_phase_changed

        from . import receivers
        from .runtime_secrets import register_secret_provider

        workload_phase_changed.connect(receivers.on_workload_phase_changed, dispatch_uid="k8s.phase_changed")
        post_save.connect(receivers.on_node_saved, sender=Node, dispatch_uid="k8s.node_saved")
        post_delete.connect(receivers.on_node_deleted, sender=Node, dispatch_uid="k8s.node_deleted")
        # Credentials for the workspace's S3/OBS locations, for every kind of workload.
        register_secret_provider(workload_storage_credentials)

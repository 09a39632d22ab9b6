from django.apps import AppConfig


class ResourcePoolsConfig(AppConfig):
    name = "resourcepools"
    verbose_name = "Resource pools"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks

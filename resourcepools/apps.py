from django.apps import AppConfig


class ResourcePoolsConfig(AppConfig):
    name = "resourcepools"
    verbose_name = "Resource pools"

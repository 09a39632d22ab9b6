from django.apps import AppConfig


class AiPlatformConfig(AppConfig):
    name = "aiplatform"
    verbose_name = "AI Platform"

    def ready(self):
        from . import authentication  # noqa: F401  (registers the OpenAPI auth scheme)

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"

    def ready(self):
        from . import signals  # noqa: F401  (revokes a session's playground key at sign-out)

from django.apps import AppConfig


class NotebooksConfig(AppConfig):
    name = "notebooks"
    verbose_name = "Notebooks"

    def ready(self):
        from k8s.runtime_secrets import register_secret_provider
        from k8s.volumes import register_volume_provider

        from .services import NOTEBOOK_KIND, notebook_secrets, notebook_volume

        register_secret_provider(notebook_secrets, kind=NOTEBOOK_KIND)
        register_volume_provider(notebook_volume, kind=NOTEBOOK_KIND)
        # A training job started from a notebook works on the notebook's storage.
        register_volume_provider(notebook_volume, kind="training")

"""Notebooks: JupyterLab development environments, each run as a workload of kind `notebook`
with a persistent volume that outlives its runs."""

import uuid

from django.conf import settings
from django.db import models

from aiplatform.models import Workspace
from resourcepools.models import Flavor, ResourcePool, Workload


class Notebook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="notebooks")
    name = models.SlugField(max_length=63, help_text="Lower-case letters, digits and '-'.")
    image_name = models.CharField(max_length=100, blank=True, default="",
                                  help_text="A catalogue image's name; empty with a custom image.")
    custom_image = models.CharField(max_length=500, blank=True, default="",
                                    help_text="An image of your own (registry address and tag).")
    image = models.CharField(max_length=500, help_text="The image it runs.")
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    pool = models.ForeignKey(ResourcePool, on_delete=models.PROTECT, related_name="+")
    storage_gib = models.PositiveIntegerField(help_text="Size of its persistent storage.")
    env = models.JSONField(default=dict, blank=True)
    idle_timeout_seconds = models.PositiveIntegerField(
        help_text="Stopped after this long without kernel or terminal activity.")
    max_lifetime_seconds = models.PositiveIntegerField(null=True, blank=True,
                                                       help_text="Each run ends after this long; empty: no limit.")
    workload = models.ForeignKey(Workload, on_delete=models.PROTECT, related_name="+",
                                 help_text="Its latest run.")
    runs = models.PositiveIntegerField(default=1, help_text="How many times it was started.")
    last_activity_at = models.DateTimeField(null=True, blank=True,
                                            help_text="Jupyter's last activity, as its status API last told it.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="notebook_name_unique")]

    def __str__(self):
        return self.name

    @property
    def volume_name(self) -> str:
        return f"nb-{self.pk}"

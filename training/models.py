"""Algorithms (reusable training recipes), training jobs and their metrics."""

import uuid

from django.conf import settings
from django.db import models

from aiplatform.models import Workspace
from resourcepools.models import Flavor, ResourcePool, Workload


class Algorithm(models.Model):
    """A recipe: image, boot command, channels, hyperparameter schema. Presets have no workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="algorithms",
        help_text="Empty for platform presets, which every workspace may use.",
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    image = models.CharField(max_length=500, help_text="Registry address and tag, e.g. swr.example.com/team/sft:1.0")
    command = models.JSONField(help_text="Boot command as a list; hyperparameters and channels are appended as "
                                         "--name=value.")
    input_channels = models.JSONField(default=list, blank=True)
    output_channels = models.JSONField(default=list, blank=True)
    hyperparameters = models.JSONField(default=list, blank=True, help_text="The hyperparameter schema: a list of "
                                       "{name, type, default, min, max, choices, required, description}.")
    accelerator_kinds = models.JSONField(default=list, blank=True, help_text="Accelerator kinds it runs on; "
                                         "'none' for CPU.")
    distributed = models.BooleanField(default=False, help_text="Whether it can run on more than one node.")
    preparation_steps = models.JSONField(default=list, blank=True, help_text="Steps run before training, e.g. "
                                         "weight conversion and dataset preprocessing.")
    outputs = models.JSONField(default=dict, blank=True, help_text="Where the recipe writes what, relative to the "
                               "job's output location.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="algorithm_name_unique_per_workspace"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(workspace__isnull=True),
                                    name="preset_name_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_preset(self):
        return self.workspace_id is None


class TrainingJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="training_jobs")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    algorithm = models.ForeignKey(Algorithm, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs")
    image = models.CharField(max_length=500, blank=True, default="", help_text="Custom image (without algorithm).")
    command = models.JSONField(default=list, blank=True, help_text="Custom command (without algorithm).")
    inputs = models.JSONField(default=list, blank=True, help_text="[{channel, uri}]")
    output_uri = models.CharField(max_length=1000)
    hyperparameters = models.JSONField(default=dict, blank=True)
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    pool = models.ForeignKey(ResourcePool, on_delete=models.PROTECT, related_name="+")
    node_count = models.PositiveIntegerField(default=1)
    env = models.JSONField(default=dict, blank=True)
    max_runtime_seconds = models.PositiveIntegerField(null=True, blank=True)
    priority = models.IntegerField(default=0)
    tags = models.JSONField(default=list, blank=True)
    workload = models.OneToOneField(Workload, on_delete=models.PROTECT, related_name="training_job")
    copied_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    throughput = models.JSONField(null=True, blank=True, help_text="Summary computed from the trainer's log.")
    max_retries = models.PositiveIntegerField(default=0, help_text="Times the platform runs the job again after an "
                                              "infrastructure failure (a lost node or replica, an eviction); never "
                                              "after the job's own failure or running out of memory.")
    attempt = models.PositiveIntegerField(default=1, help_text="The attempt its workload runs (1: the first).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class MetricPoint(models.Model):
    """One value of one metric at one step. (job, name, step) is unique, so re-reading a
    trainer log or a retried report adds nothing twice."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=100)
    step = models.PositiveIntegerField()
    value = models.FloatField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "step"]
        constraints = [models.UniqueConstraint(fields=["job", "name", "step"], name="metric_point_unique")]

    def __str__(self):
        return f"{self.name}@{self.step}={self.value}"


class TrainingJobAttempt(models.Model):
    """One run of a job: the first, and each retry the platform started after an infrastructure
    failure. The job's `workload` is its latest attempt's."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    workload = models.OneToOneField(Workload, on_delete=models.PROTECT, related_name="training_attempt")
    resumed_from_step = models.PositiveIntegerField(null=True, blank=True, help_text="The checkpoint's step it "
                                                    "continues from; empty: it starts from step 0.")
    retry_reason = models.CharField(max_length=100, blank=True, default="", help_text="Why the attempt before failed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="training_attempt_unique_number")]

    def __str__(self):
        return f"{self.job_id} attempt {self.number}"


class VisualizationJob(models.Model):
    """TensorBoard over one or more training jobs' logs, run as a small CPU workload, reached
    through the platform, stopped after an idle time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="visualizations")
    name = models.CharField(max_length=100)
    training_jobs = models.ManyToManyField(TrainingJob, related_name="visualizations")
    workload = models.OneToOneField(Workload, on_delete=models.PROTECT, related_name="visualization")
    idle_timeout_seconds = models.PositiveIntegerField(help_text="Stopped when nobody opened it for this long.")
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

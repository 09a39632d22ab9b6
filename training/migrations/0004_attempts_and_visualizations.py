"""Jobs run again after infrastructure failures (attempts, each with its workload) and
TensorBoard visualization jobs. Every existing job gets its first attempt."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def first_attempts(apps, schema_editor):
    Job = apps.get_model("training", "TrainingJob")
    Attempt = apps.get_model("training", "TrainingJobAttempt")
    Attempt.objects.bulk_create(Attempt(job_id=job_id, number=1, workload_id=workload_id)
                                for job_id, workload_id in Job.objects.values_list("id", "workload_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0003_tokens_out_of_workload_env"),
        ("resourcepools", "0005_workload_hold"),
        ("aiplatform", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="trainingjob", name="max_retries",
            field=models.PositiveIntegerField(default=0, help_text="Times the platform runs the job again after an "
                                              "infrastructure failure (a lost node or replica, an eviction); never "
                                              "after the job's own failure or running out of memory."),
        ),
        migrations.AddField(
            model_name="trainingjob", name="attempt",
            field=models.PositiveIntegerField(default=1, help_text="The attempt its workload runs (1: the first)."),
        ),
        migrations.CreateModel(
            name="TrainingJobAttempt",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                ("resumed_from_step", models.PositiveIntegerField(blank=True, null=True, help_text="The checkpoint's "
                                                                  "step it continues from; empty: it starts from "
                                                                  "step 0.")),
                ("retry_reason", models.CharField(blank=True, default="", help_text="Why the attempt before failed.",
                                                  max_length=100)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("job", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="attempts",
                                          to="training.trainingjob")),
                ("workload", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT,
                                                  related_name="training_attempt", to="resourcepools.workload")),
            ],
            options={"ordering": ["job", "number"]},
        ),
        migrations.AddConstraint(
            model_name="trainingjobattempt",
            constraint=models.UniqueConstraint(fields=("job", "number"), name="training_attempt_unique_number"),
        ),
        migrations.RunPython(first_attempts, migrations.RunPython.noop),
        migrations.CreateModel(
            name="VisualizationJob",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
                ("idle_timeout_seconds", models.PositiveIntegerField(help_text="Stopped when nobody opened it for "
                                                                     "this long.")),
                ("last_accessed_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("created_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("training_jobs", models.ManyToManyField(related_name="visualizations", to="training.trainingjob")),
                ("workload", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT,
                                                  related_name="visualization", to="resourcepools.workload")),
                ("workspace", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                related_name="visualizations", to="aiplatform.workspace")),
            ],
            options={"ordering": ["-created_at"]},
        ),
    ]

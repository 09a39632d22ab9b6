from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training"

    def ready(self):
        from k8s.runtime_secrets import register_secret_provider
        from resourcepools.models import TERMINAL_PHASES, Phase, WorkloadKind
        from resourcepools.services import workload_phase_changed

        from . import authentication  # noqa: F401  (registers the OpenAPI auth scheme)
        from .services import job_secrets
        from .tasks import enqueue_log_read, enqueue_retries

        register_secret_provider(job_secrets, kind=WorkloadKind.TRAINING)

        def when_attempt_ends(sender, workload_ids, phase, **kwargs):
            if phase in TERMINAL_PHASES:
                enqueue_log_read(workload_ids=workload_ids)
            if phase == Phase.FAILED:
                enqueue_retries(workload_ids=workload_ids)

        workload_phase_changed.connect(when_attempt_ends, weak=False, dispatch_uid="training.read_log")

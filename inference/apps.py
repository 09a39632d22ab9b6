from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference"

    def ready(self):
        from datasets.prelabel import register_service_finder
        from k8s.runtime_secrets import register_secret_provider
        from resourcepools.models import Phase, WorkloadKind
        from resourcepools.services import workload_phase_changed

        from .selectors import prelabel_target
        from .services import benchmark_secrets, promote_rollout

        register_secret_provider(benchmark_secrets, kind=WorkloadKind.BENCHMARK)
        register_service_finder(prelabel_target)

        def promote_when_running(sender, workload_ids, phase, **kwargs):
            if phase == Phase.RUNNING:
                promote_rollout(workload_ids=workload_ids)

        workload_phase_changed.connect(promote_when_running, weak=False, dispatch_uid="inference.promote_rollout")

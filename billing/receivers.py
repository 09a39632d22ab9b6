from aiplatform.celery import enqueue_on_commit
from resourcepools.models import Phase

# Leaving RUNNING closes a workload's last usage piece: meter it now rather than at the next beat.
LEFT_RUNNING = (Phase.STOPPING, Phase.SUCCEEDED, Phase.FAILED, Phase.STOPPED)


def meter_finished_work(sender, workload_ids, phase, **kwargs):
    if phase in LEFT_RUNNING:
        from .tasks import meter_usage

        enqueue_on_commit(meter_usage, workload_ids=[str(pk) for pk in workload_ids])

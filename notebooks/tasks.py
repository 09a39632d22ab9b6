from celery import shared_task

from . import services


@shared_task(name="notebooks.tasks.stop_idle_notebooks")
def stop_idle_notebooks_task():
    return services.stop_idle_notebooks()

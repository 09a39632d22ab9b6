import pytest

from aiplatform.celery import app as celery_app
from k8s.backend import clear_backend_cache, get_compute_backend


@pytest.fixture
def local_backend(settings, tmp_path):
    """The LocalBackend on a directory of its own; its processes are stopped afterwards."""
    settings.COMPUTE_BACKEND = "local"
    settings.LOCAL_BACKEND_DIR = tmp_path / "local-backend"
    clear_backend_cache()
    backend = get_compute_backend()
    yield backend
    for observation in backend.list_owned().values():
        backend.remove(observation)
    clear_backend_cache()


@pytest.fixture
def eager_tasks():
    """Tasks sent (on commit) run at once, in this process."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False

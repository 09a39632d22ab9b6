"""Tokens and the host's storage path that workloads kept in their env before runtime secrets are
taken out of it by training's 0003 and inference's 0005."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import WorkspaceFactory, cpu_flavor, make_pool

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("training", "0002_grant_storage_locations"), ("inference", "0004_grant_storage_locations")]
AFTER = [("training", "0003_tokens_out_of_workload_env"), ("inference", "0005_tokens_out_of_workload_env")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_tokens_leave_the_env_of_workloads_made_before():
    workspace = WorkspaceFactory()
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    try:
        workload_model = migrate(BEFORE).get_model("resourcepools", "Workload")
        envs = {
            "training": {"AIP_JOB_TOKEN": "t", "AIP_LOCAL_STORAGE_ROOT": "/srv/var/storage", "EPOCHS": "3"},
            "benchmark": {"AIP_BENCHMARK_TOKEN": "b", "AIP_LOCAL_STORAGE_ROOT": "/srv", "AIP_BENCHMARK_URL": "u"},
            "inference": {"AIP_LOCAL_STORAGE_ROOT": "/srv", "AIP_SERVICE_ID": "s"},
            "custom": {"AIP_JOB_TOKEN": "mine"},  # a tenant's own variable of that name stays
        }
        made = {kind: workload_model.objects.create(workspace_id=workspace.pk, pool_id=pool.pk, name=kind, kind=kind,
                                                    env=env).pk for kind, env in envs.items()}
        after = migrate(AFTER).get_model("resourcepools", "Workload")
        assert {kind: after.objects.get(pk=pk).env for kind, pk in made.items()} == {
            "training": {"EPOCHS": "3"}, "benchmark": {"AIP_BENCHMARK_URL": "u"},
            "inference": {"AIP_SERVICE_ID": "s"}, "custom": {"AIP_JOB_TOKEN": "mine"},
        }
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

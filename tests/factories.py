import json

import factory
from django.contrib.auth import get_user_model

from aiplatform import services
from aiplatform.models import Account, AccountMember, Membership, Role, Workspace


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pass-word-123")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"account{n}")


class AccountMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountMember

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory)
    is_admin = False


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"workspace{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.DEVELOPER


def member_of(workspace, role=Role.DEVELOPER, **user_fields):
    """A user of the workspace's account holding `role` in the workspace."""
    user = UserFactory(**user_fields)
    AccountMemberFactory(account=workspace.account, user=user)
    MembershipFactory(workspace=workspace, user=user, role=role)
    return user


def api_token(user, name="test") -> str:
    return services.create_api_key(user=user, name=name).token


class FlavorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "resourcepools.Flavor"
        django_get_or_create = ["name"]

    name = "npu.910b.8"
    vcpus = 192
    memory_gib = 1536
    accelerator_kind = "ascend_npu"
    accelerator_model = "910B"
    accelerators = 8
    accelerator_memory_gib = 64


def cpu_flavor():
    return FlavorFactory(name="cpu.8u32g", vcpus=8, memory_gib=32, accelerator_kind="none", accelerator_model="",
                         accelerators=0, accelerator_memory_gib=0)


def make_pool(name="p-1", flavor=None, nodes=2, kind="public", account=None):
    from resourcepools import services as pool_services

    flavor = flavor or FlavorFactory()
    return pool_services.create_pool(
        name=name, kind=kind, account=account,
        nodes=[{"name": f"{name}-node-{i}", "flavor": flavor} for i in range(nodes)],
    )


def make_workload(workspace, pool, flavor=None, replicas=1, accelerators=None, priority=0, name="job", **extra):
    from resourcepools import services as pool_services

    pod_set = {"name": "worker", "replicas": replicas, "flavor": flavor or FlavorFactory()}
    if accelerators is not None:
        pod_set["accelerators"] = accelerators
    return pool_services.create_workload(
        workspace=workspace, pool=pool, name=name, pod_sets=[pod_set], priority=priority, **extra
    )


def write_text_manifest(path):
    """A small labelled text-classification manifest (ModelArts style) the CPU preset learns."""
    lines = []
    for i in range(12):
        label, text = ("sport", "the team won the match goal") if i % 2 else ("weather", "rain and wind tomorrow cold")
        lines.append({"source": f"content://{text} {i}", "usage": "TRAIN",
                      "annotation": [{"name": label, "type": "modelarts/text_classification"}]})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def connect_bucket(account, bucket, *, prefix="", read_only=False, name=None):
    """A storage connection of the account to a bucket of the test S3 server, with the credentials
    the `s3` fixture gives the server."""
    return services.save_storage_connection(
        account=account, name=name or f"{bucket}{'-' + prefix.strip('/') if prefix else ''}", scheme="s3",
        bucket=bucket, prefix=prefix, access_key_id="test-access-key", secret_access_key="test-secret-key",
        path_style=True, read_only=read_only,
    )


def workspace_storage(local_root, workspace):
    """The folder of the workspace's own location in the embedded storage (file://ws-<id>/)."""
    path = local_root / f"ws-{workspace.pk}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def lease_events(key: str) -> list[dict]:
    """What happened to a long task, as its lease recorded it (the API shows it as `history`)."""
    from aiplatform.models import TaskLease

    return TaskLease.objects.filter(key=key).values_list("events", flat=True).first() or []

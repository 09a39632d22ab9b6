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

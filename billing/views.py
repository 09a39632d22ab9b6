"""Billing API: account-level resources under /api/v1/prices/ and /api/v1/billing/. Account
admins read all of their account's billing, buy and unsubscribe; other members read what their
workspaces used (usage records, bill lines, bills summed over those lines), never the account's
balance, ledger, subscriptions, packages or billing notifications; operators (staff) read
everything, publish prices, sell package offers and record top-ups."""

import csv
import io
from functools import cached_property

import django_filters
from django.db.models import F
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from aiplatform.api import IsOperatorOrReadOnly, PlatformViewSet, WorkspaceViewSet
from aiplatform.selectors import account_member
from aiplatform.sql import JSONKeyEquals

from . import selectors, services
from .models import (
    Bill,
    BillingAccount,
    BillLine,
    CostTag,
    LedgerEntry,
    Notification,
    Package,
    PackageOffer,
    Price,
    Subscription,
    UsageRecord,
)
from .selectors import BillingReader
from .serializers import (
    BillGenerateSerializer,
    BillingAccountSerializer,
    BillLineSerializer,
    BillSerializer,
    CostTagSerializer,
    EstimateQuerySerializer,
    EstimateSerializer,
    LedgerEntrySerializer,
    NodesSerializer,
    NotificationSerializer,
    PackageBuySerializer,
    PackageOfferSerializer,
    PackageSerializer,
    PeriodsSerializer,
    PriceSerializer,
    SubscriptionCreateSerializer,
    SubscriptionEventSerializer,
    SubscriptionSerializer,
    SubscriptionUpdateSerializer,
    TopUpSerializer,
    UsageRecordSerializer,
)


class IsOperator(BasePermission):
    message = "Only platform operators record top-ups."

    def has_permission(self, request, view):
        return request.user.is_staff


class BillingViewSet(PlatformViewSet):
    """A billing view, knowing once per request how much of billing its caller reads."""

    @cached_property
    def reader(self) -> BillingReader:
        return selectors.billing_reader(user=self.request.user)


class IsAccountAdminOrReadOnly(BasePermission):
    message = "Only your account's admins buy, renew, unsubscribe or generate bills; ask one of them."

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or view.reader.account_admin


class ReadsAccountMoney(BasePermission):
    """Balances, the ledger, subscriptions, packages and billing notifications are the account's
    money as a whole: its admins read and manage them (operators read them), as only a cloud
    account's billing administrators see its balance and orders. 403, not an empty list, so a
    member knows whom to ask rather than reading a zero balance."""

    message = ("Only your account's admins read the account's balance, ledger, subscriptions, packages and billing "
               "notifications; ask one of them (your workspaces' usage is at /api/v1/billing/usage-records/).")

    def has_permission(self, request, view):
        return (request.method in SAFE_METHODS and view.reader.operator) or view.reader.account_admin


def caller_account(request):
    return account_member(user=request.user).account


class PriceViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                 PlatformViewSet):
    """The price catalog: per flavor, pay-per-use per node-hour and monthly/yearly per node, each
    from its effective date. A price change is a new row; past charges keep their price. Only a
    change that has not taken effect yet can be withdrawn (DELETE)."""

    queryset = Price.objects.none()
    serializer_class = PriceSerializer
    permission_classes = [IsAuthenticated, IsOperatorOrReadOnly]
    filterset_fields = ["flavor__name", "flavor__family", "currency"]
    ordering_fields = ["effective_from", "flavor__name"]
    ordering = ["flavor__name", "-effective_from"]

    def get_queryset(self):
        return selectors.prices()

    def perform_create(self, serializer):
        serializer.instance = services.publish_price(created_by=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.withdraw_price(price=instance)

    @extend_schema(parameters=[EstimateQuerySerializer], responses={200: EstimateSerializer})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def estimate(self, request, *args, **kwargs):
        """What the chosen flavor × nodes costs per hour (pay_per_use) or for a subscription
        term (monthly/yearly × periods), at today's price."""
        query = EstimateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(EstimateSerializer(services.estimate(**query.validated_data)).data)


class PackageOfferViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, PlatformViewSet):
    """Packages on sale: node-hours of a flavor family on public pools, valid for N months."""

    queryset = PackageOffer.objects.none()
    serializer_class = PackageOfferSerializer
    permission_classes = [IsAuthenticated, IsOperatorOrReadOnly]
    filterset_fields = ["family", "is_active"]
    ordering_fields = ["family", "node_hours", "price"]
    ordering = ["family", "node_hours"]

    def get_queryset(self):
        return selectors.package_offers()

    def perform_create(self, serializer):
        serializer.instance = services.save_package_offer(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.save_package_offer(offer=serializer.instance, **serializer.validated_data)


class BillingAccountViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Your account's balance and arrears (account admins; operators: every account)."""

    queryset = BillingAccount.objects.none()
    serializer_class = BillingAccountSerializer
    permission_classes = [IsAuthenticated, ReadsAccountMoney]
    filterset_fields = ["account"]
    ordering_fields = ["balance", "updated_at"]
    ordering = ["account__name"]

    def get_queryset(self):
        return selectors.billing_accounts(reader=self.reader)


class LedgerViews(mixins.ListModelMixin, BillingViewSet):
    """Every balance change: top-ups, charges, refunds, each with its unique key (account admins)."""

    queryset = LedgerEntry.objects.none()
    serializer_class = LedgerEntrySerializer
    permission_classes = [IsAuthenticated, ReadsAccountMoney]
    filterset_fields = ["kind", "account"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return selectors.ledger(reader=self.reader)


class TopUpViews(PlatformViewSet):
    """Operators record money received on an account's balance."""

    queryset = LedgerEntry.objects.none()
    serializer_class = TopUpSerializer
    permission_classes = [IsAuthenticated, IsOperator]

    @extend_schema(request=TopUpSerializer, responses={201: LedgerEntrySerializer})
    def create(self, request, *args, **kwargs):
        data = TopUpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.top_up(created_by=request.user, **data.validated_data)
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class SubscriptionViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the
    pool and pays unit price × periods × nodes from the balance at once."""

    queryset = Subscription.objects.none()
    serializer_class = SubscriptionSerializer
    permission_classes = [IsAuthenticated, ReadsAccountMoney]
    filterset_fields = ["status", "period", "auto_renew"]
    ordering_fields = ["starts_at", "ends_at"]
    ordering = ["-starts_at"]

    def get_queryset(self):
        return selectors.subscriptions(reader=self.reader)

    def _respond(self, subscription, code=status.HTTP_200_OK):
        return Response(SubscriptionSerializer(self.get_queryset().get(pk=subscription.pk)).data, status=code)

    @extend_schema(request=SubscriptionCreateSerializer, responses={201: SubscriptionSerializer})
    def create(self, request, *args, **kwargs):
        data = SubscriptionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.buy_subscription(account=caller_account(request), created_by=request.user,
                                                 **data.validated_data)
        return self._respond(subscription, status.HTTP_201_CREATED)

    @extend_schema(request=SubscriptionUpdateSerializer, responses={200: SubscriptionSerializer})
    def partial_update(self, request, *args, **kwargs):
        data = SubscriptionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.set_auto_renew(subscription=self.get_object(), **data.validated_data)
        return self._respond(subscription)

    @extend_schema(request=PeriodsSerializer, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def renew(self, request, *args, **kwargs):
        data = PeriodsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.renew_subscription(subscription=self.get_object(), created_by=request.user,
                                                   **data.validated_data)
        return self._respond(subscription)

    @extend_schema(request=NodesSerializer, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"], url_path="add-nodes")
    def add_nodes(self, request, *args, **kwargs):
        data = NodesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.add_subscription_nodes(subscription=self.get_object(), created_by=request.user,
                                                       **data.validated_data)
        return self._respond(subscription)

    @extend_schema(request=None, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def unsubscribe(self, request, *args, **kwargs):
        subscription = services.unsubscribe(subscription=self.get_object(), created_by=request.user)
        return self._respond(subscription)

    @extend_schema(responses={200: SubscriptionEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def events(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_object().events.all())
        return self.get_paginated_response(SubscriptionEventSerializer(page, many=True).data)


class PackageViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Your account's packages (account admins): bought from an offer, deducted before pay-per-use."""

    queryset = Package.objects.none()
    serializer_class = PackageSerializer
    permission_classes = [IsAuthenticated, ReadsAccountMoney]
    filterset_fields = ["family"]
    ordering_fields = ["valid_until", "purchased_at"]
    ordering = ["valid_until", "purchased_at", "id"]

    def get_queryset(self):
        return selectors.packages(reader=self.reader)

    @extend_schema(request=PackageBuySerializer, responses={201: PackageSerializer})
    def create(self, request, *args, **kwargs):
        data = PackageBuySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        package = services.buy_package(account=caller_account(request), created_by=request.user,
                                       **data.validated_data)
        return Response(PackageSerializer(self.get_queryset().get(pk=package.pk)).data, status=status.HTTP_201_CREATED)


class NotificationViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Billing warnings to account admins: packages 80/90/100 % used or about to expire, frozen pools."""

    queryset = Notification.objects.none()
    serializer_class = NotificationSerializer
    permission_classes = [IsAuthenticated, ReadsAccountMoney]
    filterset_fields = ["kind"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return selectors.notifications(reader=self.reader)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, *args, **kwargs):
        return Response(NotificationSerializer(services.mark_notification_read(notification=self.get_object())).data)


class UsageRecordViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Metered usage: one record per pod set per clock hour it ran. Account admins read the whole
    account's; other members their workspaces'."""

    queryset = UsageRecord.objects.none()
    serializer_class = UsageRecordSerializer
    filterset_fields = ["workspace", "workload", "pool", "dedicated", "family"]
    ordering_fields = ["started_at"]
    ordering = ["-started_at", "-id"]

    def get_queryset(self):
        return selectors.usage_records(reader=self.reader)


CSV_COLUMNS = ["workspace_name", "resource_type", "resource_id", "resource_name", "mode", "flavor_name", "unit",
               "quantity", "unit_price", "amount", "description"]


class BillViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Monthly bills. Account admins read the whole bill and POST (re)generates a month's bill
    from its charges (a closed month always comes out the same); other members read the bills
    with lines of their workspaces, totalled over those lines (`scope`: workspaces)."""

    queryset = Bill.objects.none()
    serializer_class = BillSerializer
    permission_classes = [IsAuthenticated, IsAccountAdminOrReadOnly]
    filterset_fields = ["period", "closed"]
    ordering_fields = ["period"]
    ordering = ["-period"]

    def get_queryset(self):
        return selectors.bills(reader=self.reader)

    @extend_schema(request=BillGenerateSerializer, responses={201: BillSerializer})
    def create(self, request, *args, **kwargs):
        data = BillGenerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bill = services.generate_bill(account=caller_account(request), period=data.validated_data["period"])
        return Response(BillSerializer(self.get_queryset().get(pk=bill.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("workspace", OpenApiTypes.UUID, description="Only this workspace's lines."),
                    OpenApiParameter("tag", str, description="Only lines with this cost tag, as key:value.")],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def csv(self, request, *args, **kwargs):
        """The bill's lines as CSV, for cost allocation by workspace or tag."""
        bill = self.get_object()
        lines = BillLineFilter(request.query_params, queryset=selectors.bill_lines(bill=bill, reader=self.reader))
        if not lines.is_valid():
            raise exceptions.ValidationError(lines.errors)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*CSV_COLUMNS, "tags"])
        for line in lines.qs.values_list(*CSV_COLUMNS, "tags"):
            writer.writerow([*line[:-1], ";".join(f"{k}={v}" for k, v in sorted(line[-1].items()))])
        response = HttpResponse(out.getvalue(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="bill-{bill.period:%Y-%m}.csv"'
        return response


class BillLineFilter(django_filters.FilterSet):
    workspace = django_filters.UUIDFilter()
    tag = django_filters.CharFilter(method="filter_tag", help_text="A cost tag as key:value, e.g. team:nlp.")

    class Meta:
        model = BillLine
        fields = ["workspace", "mode", "resource_type"]

    def filter_tag(self, queryset, name, value):
        key, sep, tag_value = value.partition(":")
        if not sep or not key:
            raise exceptions.ValidationError({"tag": "Give a tag as key:value, e.g. team:nlp."})
        return queryset.filter(JSONKeyEquals(F("tags"), (key, tag_value)))


class BillLineViews(mixins.ListModelMixin, BillingViewSet):
    """A bill's lines: per resource and billing mode, quantity × unit price = amount. Members
    who are not account admins read their workspaces' lines."""

    queryset = BillLine.objects.none()
    serializer_class = BillLineSerializer
    filterset_class = BillLineFilter
    ordering_fields = ["id", "amount"]
    ordering = ["id"]

    def get_queryset(self):
        bill = selectors.bills(reader=self.reader).filter(pk=_bill_id(self.kwargs["bill_id"])).first()
        if bill is None:
            raise exceptions.NotFound("Bill not found.")
        return selectors.bill_lines(bill=bill, reader=self.reader)


def _bill_id(value):
    try:
        return int(value)
    except ValueError:
        raise exceptions.NotFound("Bill not found.") from None


@extend_schema(parameters=[OpenApiParameter("workspace_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
class CostTagViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet):
    """Cost-allocation tags on the workspace's workloads. Bill lines carry them and filter by
    them (`?tag=key:value`). POST sets a tag (replacing the workload's value for that key)."""

    queryset = CostTag.objects.none()
    serializer_class = CostTagSerializer
    filterset_fields = ["key", "value", "workload"]
    ordering_fields = ["key", "created_at"]
    ordering = ["key", "id"]

    def get_queryset(self):
        return selectors.cost_tags(workspace=self.workspace)

    def create(self, request, *args, **kwargs):
        data = CostTagSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.set_cost_tag(workspace=self.workspace, workload_id=data.validated_data["workload"],
                                    key=data.validated_data["key"], value=data.validated_data["value"])
        return Response(CostTagSerializer(self.get_queryset().get(pk=tag.pk)).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.delete_cost_tag(tag=instance)

"""Resource classes of the API, generated from its OpenAPI schema by sdk/tools/generate.py; do
not edit (hand-written methods are in _extras.py)."""

from __future__ import annotations

import builtins
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from .. import _extras
from .._pagination import Paginator
from .._resource import Resource, operation
from .._types import NOT_GIVEN, IdLike, NotGiven, RequestOptions, id_of
from ..models import (
    AcceleratorKindEnum,
    AccountUser,
    Algorithm,
    AnnotationItem,
    AnnotationTask,
    AnnotationTaskScopeEnum,
    ApiKey,
    ApiKeyCreated,
    AuditEvent,
    BenchmarkModeEnum,
    BenchmarkRun,
    Bill,
    BillingAccount,
    BillLine,
    Comparison,
    CostTag,
    Dataset,
    DatasetTypeEnum,
    DatasetVersion,
    DecisionEnum,
    DeploymentModeEnum,
    DtypeEnum,
    Estimate,
    ExportTask,
    Flavor,
    FormatEnum,
    HealthEnum,
    ImportTask,
    ImportTaskKindEnum,
    InputRequest,
    Invitation,
    ItemAnnotationRequest,
    ItemBatchResult,
    JobEvent,
    KvCacheDtypeEnum,
    KvConnectorEnum,
    LabelRequest,
    LedgerEntry,
    Me,
    Membership,
    MembershipRoleEnum,
    MetricPoint,
    MetricPointRequest,
    Model,
    NewLabelsEnum,
    Node,
    Notebook,
    NotebookImage,
    Notification,
    Package,
    PackageOffer,
    PeriodEnum,
    Plan,
    PodSetRequest,
    PoolNodeSpecRequest,
    PoolStatusEnum,
    Prediction,
    PredictionBulkResult,
    PredictionDecisionRequest,
    PredictionReviewResult,
    PreemptionPolicyEnum,
    PrelabelTask,
    Price,
    QuantizationEnum,
    QuantizationJob,
    QuantizationJobSchemeEnum,
    Quota,
    QuotaFlavorRequest,
    ResourcePool,
    ResourcePoolCreateKindEnum,
    ReviewDecisionRequest,
    RoutingEnum,
    RuntimeEnum,
    Sample,
    SampleAnnotationItemRequest,
    SampleBatchResult,
    SampleFiltersRequest,
    SampleInputRequest,
    Service,
    ServiceGateway,
    SourceEnum,
    StorageConnection,
    StorageConnectionCheck,
    StorageConnectionSchemeEnum,
    Subscription,
    SubscriptionEvent,
    Traffic,
    TrainingJob,
    Upload,
    UploadedObject,
    UploadPartWritten,
    UsageRecord,
    Visualization,
    Workload,
    WorkloadEvent,
    WorkloadLogs,
    Workspace,
)

if TYPE_CHECKING:
    from .._client import Client

class AccountUsers(Resource):
    """Account users: invitation, list, retrieve, update."""

    @operation("POST", "/api/v1/account-users/{user_id}/invitation/")
    def invitation(self, user_id: IdLike, *, request_options: RequestOptions | None = None) -> Invitation:
        """A new set-password link for someone who has not chosen a password yet."""
        return self._model(
            Invitation,
            "POST",
            "/api/v1/account-users/{user_id}/invitation/",
            path={"user_id": id_of(user_id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/account-users/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[AccountUser]:
        """The people of the caller's account (account admins): who is an admin, who has not used their
        invitation yet. PATCH `is_admin`; POST …/invitation/ makes a new set-password link for someone who
        has not chosen a password yet.
        """
        return self._page(
            AccountUser,
            "/api/v1/account-users/",
            query={"ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/account-users/{user_id}/")
    def retrieve(self, user_id: IdLike, *, request_options: RequestOptions | None = None) -> AccountUser:
        """The people of the caller's account (account admins): who is an admin, who has not used their
        invitation yet. PATCH `is_admin`; POST …/invitation/ makes a new set-password link for someone who
        has not chosen a password yet.
        """
        return self._model(
            AccountUser,
            "GET",
            "/api/v1/account-users/{user_id}/",
            path={"user_id": id_of(user_id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/account-users/{user_id}/")
    def update(
        self,
        user_id: IdLike,
        *,
        is_admin: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> AccountUser:
        """The people of the caller's account (account admins): who is an admin, who has not used their
        invitation yet. PATCH `is_admin`; POST …/invitation/ makes a new set-password link for someone who
        has not chosen a password yet.
        """
        return self._model(
            AccountUser,
            "PATCH",
            "/api/v1/account-users/{user_id}/",
            path={"user_id": id_of(user_id)},
            body={"is_admin": is_admin},
            options=request_options,
        )


class ApiKeys(Resource):
    """Api keys: create, delete, list, retrieve."""

    @operation("POST", "/api/v1/api-keys/")
    def create(
        self,
        *,
        name: str,
        expires_at: datetime | str | None | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ApiKeyCreated:
        """The caller's personal API keys. DELETE revokes a key (it stays listed as revoked)."""
        return self._model(
            ApiKeyCreated,
            "POST",
            "/api/v1/api-keys/",
            body={"name": name, "expires_at": expires_at},
            options=request_options,
        )

    @operation("DELETE", "/api/v1/api-keys/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> ApiKey:
        """The caller's personal API keys. DELETE revokes a key (it stays listed as revoked)."""
        return self._model(ApiKey, "DELETE", "/api/v1/api-keys/{id}/", path={"id": id_of(id)}, options=request_options)

    @operation("GET", "/api/v1/api-keys/")
    def list(
        self,
        *,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[ApiKey]:
        """The caller's personal API keys. DELETE revokes a key (it stays listed as revoked)."""
        return self._page(
            ApiKey,
            "/api/v1/api-keys/",
            query={"name": name, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/api-keys/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> ApiKey:
        """The caller's personal API keys. DELETE revokes a key (it stays listed as revoked)."""
        return self._model(ApiKey, "GET", "/api/v1/api-keys/{id}/", path={"id": id_of(id)}, options=request_options)


class Runtime(Resource):
    """Runtime: report_benchmark_result, report_metrics."""

    @operation("POST", "/api/v1/benchmark-runs/{run_id}/result/")
    def report_benchmark_result(
        self,
        run_id: IdLike,
        *,
        result: dict[str, Any],
        request_options: RequestOptions | None = None,
    ) -> None:
        """Where a benchmark run's load generator reports its result, with its run token (AIP_BENCHMARK_TOKEN)."""
        return self._none(
            "POST",
            "/api/v1/benchmark-runs/{run_id}/result/",
            path={"run_id": id_of(run_id)},
            body={"result": result},
            options=request_options,
        )

    @operation("POST", "/api/v1/training-jobs/{job_id}/metrics/")
    def report_metrics(
        self,
        job_id: IdLike,
        *,
        metrics: builtins.list[MetricPointRequest],
        request_options: RequestOptions | None = None,
    ) -> None:
        """Where a running job's runtime reports metrics, with its job token (AIP_JOB_TOKEN)."""
        return self._none(
            "POST",
            "/api/v1/training-jobs/{job_id}/metrics/",
            path={"job_id": id_of(job_id)},
            body={"metrics": metrics},
            options=request_options,
        )


class BillingAccounts(Resource):
    """Accounts: list, retrieve."""

    @operation("GET", "/api/v1/billing/accounts/")
    def list(
        self,
        *,
        account: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[BillingAccount]:
        """Your account's balance and arrears (account admins; operators: every account)."""
        return self._page(
            BillingAccount,
            "/api/v1/billing/accounts/",
            query={"account": account, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/accounts/{account}/")
    def retrieve(self, account: IdLike, *, request_options: RequestOptions | None = None) -> BillingAccount:
        """Your account's balance and arrears (account admins; operators: every account)."""
        return self._model(
            BillingAccount,
            "GET",
            "/api/v1/billing/accounts/{account}/",
            path={"account": id_of(account)},
            options=request_options,
        )


class BillingBills(Resource):
    """Bills: create, download_csv, lines, list, retrieve."""

    @operation("POST", "/api/v1/billing/bills/")
    def create(self, *, period: date | str, request_options: RequestOptions | None = None) -> Bill:
        """Monthly bills. Account admins read the whole bill and POST (re)generates a month's bill from its
        charges (a closed month always comes out the same); other members read the bills with lines of their
        workspaces, totalled over those lines (`scope`: workspaces).
        """
        return self._model(Bill, "POST", "/api/v1/billing/bills/", body={"period": period}, options=request_options)

    @operation("GET", "/api/v1/billing/bills/{id}/csv/")
    def download_csv(
        self,
        id: IdLike,
        *,
        tag: str | NotGiven = NOT_GIVEN,
        workspace: str | NotGiven = NOT_GIVEN,
        save_to: str | Path | None = None,
        request_options: RequestOptions | None = None,
    ) -> bytes:
        """The bill's lines as CSV, for cost allocation by workspace or tag."""
        return self._bytes(
            "/api/v1/billing/bills/{id}/csv/",
            path={"id": id_of(id)},
            query={"tag": tag, "workspace": workspace},
            save_to=save_to,
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/bills/{bill_id}/lines/")
    def lines(
        self,
        bill_id: IdLike,
        *,
        mode: Literal["package", "pay_per_use", "subscription"] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        resource_type: Literal["package", "pool", "service", "workload"] | NotGiven = NOT_GIVEN,
        tag: str | NotGiven = NOT_GIVEN,
        workspace: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[BillLine]:
        """A bill's lines: per resource and billing mode, quantity × unit price = amount. Members who are not
        account admins read their workspaces' lines.
        """
        return self._page(
            BillLine,
            "/api/v1/billing/bills/{bill_id}/lines/",
            path={"bill_id": id_of(bill_id)},
            query={
                "mode": mode,
                "ordering": ordering,
                "page_size": page_size,
                "resource_type": resource_type,
                "tag": tag,
                "workspace": workspace,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/bills/")
    def list(
        self,
        *,
        closed: bool | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        period: date | str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Bill]:
        """Monthly bills. Account admins read the whole bill and POST (re)generates a month's bill from its
        charges (a closed month always comes out the same); other members read the bills with lines of their
        workspaces, totalled over those lines (`scope`: workspaces).
        """
        return self._page(
            Bill,
            "/api/v1/billing/bills/",
            query={"closed": closed, "ordering": ordering, "page_size": page_size, "period": period},
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/bills/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Bill:
        """Monthly bills. Account admins read the whole bill and POST (re)generates a month's bill from its
        charges (a closed month always comes out the same); other members read the bills with lines of their
        workspaces, totalled over those lines (`scope`: workspaces).
        """
        return self._model(Bill, "GET", "/api/v1/billing/bills/{id}/", path={"id": id_of(id)}, options=request_options)


class BillingLedger(Resource):
    """Ledger: list."""

    @operation("GET", "/api/v1/billing/ledger/")
    def list(
        self,
        *,
        account: str | NotGiven = NOT_GIVEN,
        kind: Literal["package", "pay_per_use", "refund", "subscription", "top_up"] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[LedgerEntry]:
        """Every balance change: top-ups, charges, refunds, each with its unique key (account admins)."""
        return self._page(
            LedgerEntry,
            "/api/v1/billing/ledger/",
            query={"account": account, "kind": kind, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )


class BillingNotifications(Resource):
    """Notifications: list, mark_read, retrieve."""

    @operation("GET", "/api/v1/billing/notifications/")
    def list(
        self,
        *,
        kind: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Notification]:
        """Billing warnings to account admins: packages 80/90/100 % used or about to expire, frozen pools."""
        return self._page(
            Notification,
            "/api/v1/billing/notifications/",
            query={"kind": kind, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("POST", "/api/v1/billing/notifications/{id}/read/")
    def mark_read(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Notification:
        """Billing warnings to account admins: packages 80/90/100 % used or about to expire, frozen pools."""
        return self._model(
            Notification,
            "POST",
            "/api/v1/billing/notifications/{id}/read/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/notifications/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Notification:
        """Billing warnings to account admins: packages 80/90/100 % used or about to expire, frozen pools."""
        return self._model(
            Notification,
            "GET",
            "/api/v1/billing/notifications/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class BillingPackageOffers(Resource):
    """Package offers: create, list, replace, retrieve, update."""

    @operation("POST", "/api/v1/billing/package-offers/")
    def create(
        self,
        *,
        name: str,
        family: str,
        node_hours: int,
        price: Decimal | str,
        validity_months: int | NotGiven = NOT_GIVEN,
        currency: str | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> PackageOffer:
        """Packages on sale: node-hours of a flavor family on public pools, valid for N months."""
        return self._model(
            PackageOffer,
            "POST",
            "/api/v1/billing/package-offers/",
            body={
                "name": name,
                "family": family,
                "node_hours": node_hours,
                "validity_months": validity_months,
                "price": price,
                "currency": currency,
                "is_active": is_active,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/package-offers/")
    def list(
        self,
        *,
        family: str | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[PackageOffer]:
        """Packages on sale: node-hours of a flavor family on public pools, valid for N months."""
        return self._page(
            PackageOffer,
            "/api/v1/billing/package-offers/",
            query={"family": family, "is_active": is_active, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("PUT", "/api/v1/billing/package-offers/{id}/")
    def replace(
        self,
        id: IdLike,
        *,
        name: str,
        family: str,
        node_hours: int,
        price: Decimal | str,
        validity_months: int | NotGiven = NOT_GIVEN,
        currency: str | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> PackageOffer:
        """Packages on sale: node-hours of a flavor family on public pools, valid for N months."""
        return self._model(
            PackageOffer,
            "PUT",
            "/api/v1/billing/package-offers/{id}/",
            path={"id": id_of(id)},
            body={
                "name": name,
                "family": family,
                "node_hours": node_hours,
                "validity_months": validity_months,
                "price": price,
                "currency": currency,
                "is_active": is_active,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/package-offers/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> PackageOffer:
        """Packages on sale: node-hours of a flavor family on public pools, valid for N months."""
        return self._model(
            PackageOffer,
            "GET",
            "/api/v1/billing/package-offers/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/billing/package-offers/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        name: str | NotGiven = NOT_GIVEN,
        family: str | NotGiven = NOT_GIVEN,
        node_hours: int | NotGiven = NOT_GIVEN,
        validity_months: int | NotGiven = NOT_GIVEN,
        price: Decimal | str | NotGiven = NOT_GIVEN,
        currency: str | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> PackageOffer:
        """Packages on sale: node-hours of a flavor family on public pools, valid for N months."""
        return self._model(
            PackageOffer,
            "PATCH",
            "/api/v1/billing/package-offers/{id}/",
            path={"id": id_of(id)},
            body={
                "name": name,
                "family": family,
                "node_hours": node_hours,
                "validity_months": validity_months,
                "price": price,
                "currency": currency,
                "is_active": is_active,
            },
            options=request_options,
        )


class BillingPackages(Resource):
    """Packages: create, list, retrieve."""

    @operation("POST", "/api/v1/billing/packages/")
    def create(self, *, offer: int, request_options: RequestOptions | None = None) -> Package:
        """Your account's packages (account admins): bought from an offer, deducted before pay-per-use."""
        return self._model(Package, "POST", "/api/v1/billing/packages/", body={"offer": offer}, options=request_options)

    @operation("GET", "/api/v1/billing/packages/")
    def list(
        self,
        *,
        family: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Package]:
        """Your account's packages (account admins): bought from an offer, deducted before pay-per-use."""
        return self._page(
            Package,
            "/api/v1/billing/packages/",
            query={"family": family, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/packages/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Package:
        """Your account's packages (account admins): bought from an offer, deducted before pay-per-use."""
        return self._model(
            Package,
            "GET",
            "/api/v1/billing/packages/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class BillingSubscriptions(Resource):
    """Subscriptions: add_nodes, create, events, list, renew, retrieve, unsubscribe, update."""

    @operation("POST", "/api/v1/billing/subscriptions/{id}/add-nodes/")
    def add_nodes(self, id: IdLike, *, nodes: int, request_options: RequestOptions | None = None) -> Subscription:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._model(
            Subscription,
            "POST",
            "/api/v1/billing/subscriptions/{id}/add-nodes/",
            path={"id": id_of(id)},
            body={"nodes": nodes},
            options=request_options,
        )

    @operation("POST", "/api/v1/billing/subscriptions/")
    def create(
        self,
        *,
        pool_name: str,
        flavor: str,
        nodes: int,
        period: PeriodEnum,
        periods: int,
        auto_renew: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Subscription:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._model(
            Subscription,
            "POST",
            "/api/v1/billing/subscriptions/",
            body={
                "pool_name": pool_name,
                "flavor": flavor,
                "nodes": nodes,
                "period": period,
                "periods": periods,
                "auto_renew": auto_renew,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/subscriptions/{id}/events/")
    def events(
        self,
        id: IdLike,
        *,
        auto_renew: bool | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        period: Literal["monthly", "yearly"] | NotGiven = NOT_GIVEN,
        status: Literal["active", "expired", "released", "unsubscribed"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[SubscriptionEvent]:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._page(
            SubscriptionEvent,
            "/api/v1/billing/subscriptions/{id}/events/",
            path={"id": id_of(id)},
            query={
                "auto_renew": auto_renew,
                "ordering": ordering,
                "page_size": page_size,
                "period": period,
                "status": status,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/subscriptions/")
    def list(
        self,
        *,
        auto_renew: bool | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        period: Literal["monthly", "yearly"] | NotGiven = NOT_GIVEN,
        status: Literal["active", "expired", "released", "unsubscribed"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Subscription]:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._page(
            Subscription,
            "/api/v1/billing/subscriptions/",
            query={
                "auto_renew": auto_renew,
                "ordering": ordering,
                "page_size": page_size,
                "period": period,
                "status": status,
            },
            options=request_options,
        )

    @operation("POST", "/api/v1/billing/subscriptions/{id}/renew/")
    def renew(self, id: IdLike, *, periods: int, request_options: RequestOptions | None = None) -> Subscription:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._model(
            Subscription,
            "POST",
            "/api/v1/billing/subscriptions/{id}/renew/",
            path={"id": id_of(id)},
            body={"periods": periods},
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/subscriptions/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Subscription:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._model(
            Subscription,
            "GET",
            "/api/v1/billing/subscriptions/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/billing/subscriptions/{id}/unsubscribe/")
    def unsubscribe(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Subscription:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._model(
            Subscription,
            "POST",
            "/api/v1/billing/subscriptions/{id}/unsubscribe/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/billing/subscriptions/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        auto_renew: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Subscription:
        """Yearly/monthly subscriptions for dedicated pools (account admins). Buying one creates the pool and
        pays unit price × periods × nodes from the balance at once.
        """
        return self._model(
            Subscription,
            "PATCH",
            "/api/v1/billing/subscriptions/{id}/",
            path={"id": id_of(id)},
            body={"auto_renew": auto_renew},
            options=request_options,
        )


class BillingTopUps(Resource):
    """Top ups: create."""

    @operation("POST", "/api/v1/billing/top-ups/")
    def create(
        self,
        *,
        account: str,
        amount: Decimal | str,
        note: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> LedgerEntry:
        """Operators record money received on an account's balance."""
        return self._model(
            LedgerEntry,
            "POST",
            "/api/v1/billing/top-ups/",
            body={"account": account, "amount": amount, "note": note},
            options=request_options,
        )


class BillingUsageRecords(Resource):
    """Usage records: list, retrieve."""

    @operation("GET", "/api/v1/billing/usage-records/")
    def list(
        self,
        *,
        dedicated: bool | NotGiven = NOT_GIVEN,
        family: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        workload: str | NotGiven = NOT_GIVEN,
        workspace: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[UsageRecord]:
        """Metered usage: one record per pod set per clock hour it ran. Account admins read the whole
        account's; other members their workspaces'.
        """
        return self._page(
            UsageRecord,
            "/api/v1/billing/usage-records/",
            query={
                "dedicated": dedicated,
                "family": family,
                "ordering": ordering,
                "page_size": page_size,
                "pool": pool,
                "workload": workload,
                "workspace": workspace,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/billing/usage-records/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> UsageRecord:
        """Metered usage: one record per pod set per clock hour it ran. Account admins read the whole
        account's; other members their workspaces'.
        """
        return self._model(
            UsageRecord,
            "GET",
            "/api/v1/billing/usage-records/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class Billing(Resource):
    """Billing."""

    @property
    def accounts(self) -> BillingAccounts:
        return BillingAccounts(self._client, **self._scope)

    @property
    def bills(self) -> BillingBills:
        return BillingBills(self._client, **self._scope)

    @property
    def ledger(self) -> BillingLedger:
        return BillingLedger(self._client, **self._scope)

    @property
    def notifications(self) -> BillingNotifications:
        return BillingNotifications(self._client, **self._scope)

    @property
    def package_offers(self) -> BillingPackageOffers:
        return BillingPackageOffers(self._client, **self._scope)

    @property
    def packages(self) -> BillingPackages:
        return BillingPackages(self._client, **self._scope)

    @property
    def subscriptions(self) -> BillingSubscriptions:
        return BillingSubscriptions(self._client, **self._scope)

    @property
    def top_ups(self) -> BillingTopUps:
        return BillingTopUps(self._client, **self._scope)

    @property
    def usage_records(self) -> BillingUsageRecords:
        return BillingUsageRecords(self._client, **self._scope)


class Flavors(Resource):
    """Flavors: create, delete, list, replace, retrieve, update."""

    @operation("POST", "/api/v1/flavors/")
    def create(
        self,
        *,
        name: str,
        vcpus: int,
        memory_gib: int,
        family: str | NotGiven = NOT_GIVEN,
        accelerator_kind: AcceleratorKindEnum | NotGiven = NOT_GIVEN,
        accelerator_model: str | NotGiven = NOT_GIVEN,
        accelerators: int | NotGiven = NOT_GIVEN,
        accelerator_memory_gib: int | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Flavor:
        """Node flavors. Everyone reads them; operators manage them (retire with is_active=false)."""
        return self._model(
            Flavor,
            "POST",
            "/api/v1/flavors/",
            body={
                "name": name,
                "family": family,
                "vcpus": vcpus,
                "memory_gib": memory_gib,
                "accelerator_kind": accelerator_kind,
                "accelerator_model": accelerator_model,
                "accelerators": accelerators,
                "accelerator_memory_gib": accelerator_memory_gib,
                "is_active": is_active,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/flavors/{name}/")
    def delete(self, name: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Node flavors. Everyone reads them; operators manage them (retire with is_active=false)."""
        return self._none("DELETE", "/api/v1/flavors/{name}/", path={"name": id_of(name)}, options=request_options)

    @operation("GET", "/api/v1/flavors/")
    def list(
        self,
        *,
        accelerator_kind: Literal["ascend_npu", "none", "nvidia_gpu"] | NotGiven = NOT_GIVEN,
        family: str | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Flavor]:
        """Node flavors. Everyone reads them; operators manage them (retire with is_active=false)."""
        return self._page(
            Flavor,
            "/api/v1/flavors/",
            query={
                "accelerator_kind": accelerator_kind,
                "family": family,
                "is_active": is_active,
                "ordering": ordering,
                "page_size": page_size,
            },
            options=request_options,
        )

    @operation("PUT", "/api/v1/flavors/{name}/")
    def replace(
        self,
        flavor_name: IdLike,
        *,
        name: str,
        vcpus: int,
        memory_gib: int,
        family: str | NotGiven = NOT_GIVEN,
        accelerator_kind: AcceleratorKindEnum | NotGiven = NOT_GIVEN,
        accelerator_model: str | NotGiven = NOT_GIVEN,
        accelerators: int | NotGiven = NOT_GIVEN,
        accelerator_memory_gib: int | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Flavor:
        """Node flavors. Everyone reads them; operators manage them (retire with is_active=false)."""
        return self._model(
            Flavor,
            "PUT",
            "/api/v1/flavors/{name}/",
            path={"name": id_of(flavor_name)},
            body={
                "name": name,
                "family": family,
                "vcpus": vcpus,
                "memory_gib": memory_gib,
                "accelerator_kind": accelerator_kind,
                "accelerator_model": accelerator_model,
                "accelerators": accelerators,
                "accelerator_memory_gib": accelerator_memory_gib,
                "is_active": is_active,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/flavors/{name}/")
    def retrieve(self, name: IdLike, *, request_options: RequestOptions | None = None) -> Flavor:
        """Node flavors. Everyone reads them; operators manage them (retire with is_active=false)."""
        return self._model(
            Flavor,
            "GET",
            "/api/v1/flavors/{name}/",
            path={"name": id_of(name)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/flavors/{name}/")
    def update(
        self,
        flavor_name: IdLike,
        *,
        name: str | NotGiven = NOT_GIVEN,
        family: str | NotGiven = NOT_GIVEN,
        vcpus: int | NotGiven = NOT_GIVEN,
        memory_gib: int | NotGiven = NOT_GIVEN,
        accelerator_kind: AcceleratorKindEnum | NotGiven = NOT_GIVEN,
        accelerator_model: str | NotGiven = NOT_GIVEN,
        accelerators: int | NotGiven = NOT_GIVEN,
        accelerator_memory_gib: int | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Flavor:
        """Node flavors. Everyone reads them; operators manage them (retire with is_active=false)."""
        return self._model(
            Flavor,
            "PATCH",
            "/api/v1/flavors/{name}/",
            path={"name": id_of(flavor_name)},
            body={
                "name": name,
                "family": family,
                "vcpus": vcpus,
                "memory_gib": memory_gib,
                "accelerator_kind": accelerator_kind,
                "accelerator_model": accelerator_model,
                "accelerators": accelerators,
                "accelerator_memory_gib": accelerator_memory_gib,
                "is_active": is_active,
            },
            options=request_options,
        )


class Invitations(Resource):
    """Invitations: create."""

    @operation("POST", "/api/v1/invitations/")
    def create(
        self,
        *,
        username: str | NotGiven = NOT_GIVEN,
        email: str | NotGiven = NOT_GIVEN,
        is_admin: bool | NotGiven = NOT_GIVEN,
        workspace: str | None | NotGiven = NOT_GIVEN,
        role: MembershipRoleEnum | None | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Invitation:
        """Account admins invite people: a user of the account without a password, optionally a member of a
        workspace at once, and a set-password link for them (mailed with INVITATION_EMAILS).
        """
        return self._model(
            Invitation,
            "POST",
            "/api/v1/invitations/",
            body={"username": username, "email": email, "is_admin": is_admin, "workspace": workspace, "role": role},
            options=request_options,
        )


class Prices(Resource):
    """Prices: create, delete, estimate, list, retrieve."""

    @operation("POST", "/api/v1/prices/")
    def create(
        self,
        *,
        flavor: str,
        pay_per_use_hourly: Decimal | str,
        monthly: Decimal | str,
        yearly: Decimal | str,
        input_tokens_per_million: Decimal | str | None | NotGiven = NOT_GIVEN,
        output_tokens_per_million: Decimal | str | None | NotGiven = NOT_GIVEN,
        currency: str | NotGiven = NOT_GIVEN,
        effective_from: datetime | str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Price:
        """The price catalog: per flavor, pay-per-use per node-hour and monthly/yearly per node, each from its
        effective date. A price change is a new row; past charges keep their price. Only a change that has
        not taken effect yet can be withdrawn (DELETE).
        """
        return self._model(
            Price,
            "POST",
            "/api/v1/prices/",
            body={
                "flavor": flavor,
                "pay_per_use_hourly": pay_per_use_hourly,
                "monthly": monthly,
                "yearly": yearly,
                "input_tokens_per_million": input_tokens_per_million,
                "output_tokens_per_million": output_tokens_per_million,
                "currency": currency,
                "effective_from": effective_from,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/prices/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """The price catalog: per flavor, pay-per-use per node-hour and monthly/yearly per node, each from its
        effective date. A price change is a new row; past charges keep their price. Only a change that has
        not taken effect yet can be withdrawn (DELETE).
        """
        return self._none("DELETE", "/api/v1/prices/{id}/", path={"id": id_of(id)}, options=request_options)

    @operation("GET", "/api/v1/prices/estimate/")
    def estimate(
        self,
        *,
        flavor: str,
        mode: Literal["pay_per_use", "monthly", "yearly"] | NotGiven = NOT_GIVEN,
        nodes: int | NotGiven = NOT_GIVEN,
        periods: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Estimate:
        """What the chosen flavor × nodes costs per hour (pay_per_use) or for a subscription term
        (monthly/yearly × periods), at today's price.
        """
        return self._model(
            Estimate,
            "GET",
            "/api/v1/prices/estimate/",
            query={"flavor": flavor, "mode": mode, "nodes": nodes, "periods": periods},
            options=request_options,
        )

    @operation("GET", "/api/v1/prices/")
    def list(
        self,
        *,
        currency: str | NotGiven = NOT_GIVEN,
        flavor__family: str | NotGiven = NOT_GIVEN,
        flavor__name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Price]:
        """The price catalog: per flavor, pay-per-use per node-hour and monthly/yearly per node, each from its
        effective date. A price change is a new row; past charges keep their price. Only a change that has
        not taken effect yet can be withdrawn (DELETE).
        """
        return self._page(
            Price,
            "/api/v1/prices/",
            query={
                "currency": currency,
                "flavor__family": flavor__family,
                "flavor__name": flavor__name,
                "ordering": ordering,
                "page_size": page_size,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/prices/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Price:
        """The price catalog: per flavor, pay-per-use per node-hour and monthly/yearly per node, each from its
        effective date. A price change is a new row; past charges keep their price. Only a change that has
        not taken effect yet can be withdrawn (DELETE).
        """
        return self._model(Price, "GET", "/api/v1/prices/{id}/", path={"id": id_of(id)}, options=request_options)


class ResourcePoolNodes(Resource):
    """Nodes: create, delete, list, retrieve, update."""

    @operation("POST", "/api/v1/resource-pools/{pool_id}/nodes/")
    def create(
        self,
        *,
        name: str,
        flavor: str,
        schedulable: bool | NotGiven = NOT_GIVEN,
        health: HealthEnum | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Node:
        """The nodes of a pool. Operators add, cordon (schedulable=false) and remove them."""
        return self._model(
            Node,
            "POST",
            "/api/v1/resource-pools/{pool_id}/nodes/",
            body={"name": name, "flavor": flavor, "schedulable": schedulable, "health": health},
            options=request_options,
        )

    @operation("DELETE", "/api/v1/resource-pools/{pool_id}/nodes/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """The nodes of a pool. Operators add, cordon (schedulable=false) and remove them."""
        return self._none(
            "DELETE",
            "/api/v1/resource-pools/{pool_id}/nodes/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/resource-pools/{pool_id}/nodes/")
    def list(
        self,
        *,
        flavor__name: str | NotGiven = NOT_GIVEN,
        health: Literal["healthy", "unhealthy"] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        schedulable: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Node]:
        """The nodes of a pool. Operators add, cordon (schedulable=false) and remove them."""
        return self._page(
            Node,
            "/api/v1/resource-pools/{pool_id}/nodes/",
            query={
                "flavor__name": flavor__name,
                "health": health,
                "ordering": ordering,
                "page_size": page_size,
                "schedulable": schedulable,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/resource-pools/{pool_id}/nodes/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Node:
        """The nodes of a pool. Operators add, cordon (schedulable=false) and remove them."""
        return self._model(
            Node,
            "GET",
            "/api/v1/resource-pools/{pool_id}/nodes/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/resource-pools/{pool_id}/nodes/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        schedulable: bool | NotGiven = NOT_GIVEN,
        health: HealthEnum | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Node:
        """The nodes of a pool. Operators add, cordon (schedulable=false) and remove them."""
        return self._model(
            Node,
            "PATCH",
            "/api/v1/resource-pools/{pool_id}/nodes/{id}/",
            path={"id": id_of(id)},
            body={"schedulable": schedulable, "health": health},
            options=request_options,
        )


class ResourcePools(Resource):
    """Resource pools: create, delete, list, retrieve, update."""

    def nodes(self, pool_id: IdLike) -> ResourcePoolNodes:
        """Nodes of one resource pool."""
        return ResourcePoolNodes(self._client, **self._scope, pool_id=id_of(pool_id))

    @operation("POST", "/api/v1/resource-pools/")
    def create(
        self,
        *,
        name: str,
        kind: ResourcePoolCreateKindEnum,
        description: str | NotGiven = NOT_GIVEN,
        account: str | None | NotGiven = NOT_GIVEN,
        region: str | NotGiven = NOT_GIVEN,
        availability_zone: str | NotGiven = NOT_GIVEN,
        nodes: builtins.list[PoolNodeSpecRequest] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ResourcePool:
        """Public pools and your account's dedicated pools, with capacity and live use."""
        return self._model(
            ResourcePool,
            "POST",
            "/api/v1/resource-pools/",
            body={
                "name": name,
                "description": description,
                "kind": kind,
                "account": account,
                "region": region,
                "availability_zone": availability_zone,
                "nodes": nodes,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/resource-pools/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Public pools and your account's dedicated pools, with capacity and live use."""
        return self._none("DELETE", "/api/v1/resource-pools/{id}/", path={"id": id_of(id)}, options=request_options)

    @operation("GET", "/api/v1/resource-pools/")
    def list(
        self,
        *,
        kind: Literal["dedicated", "public"] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        region: str | NotGiven = NOT_GIVEN,
        status: Literal["abnormal", "creating", "deleting", "frozen", "running", "scaling"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[ResourcePool]:
        """Public pools and your account's dedicated pools, with capacity and live use."""
        return self._page(
            ResourcePool,
            "/api/v1/resource-pools/",
            query={"kind": kind, "ordering": ordering, "page_size": page_size, "region": region, "status": status},
            options=request_options,
        )

    @operation("GET", "/api/v1/resource-pools/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> ResourcePool:
        """Public pools and your account's dedicated pools, with capacity and live use."""
        return self._model(
            ResourcePool,
            "GET",
            "/api/v1/resource-pools/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/resource-pools/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        description: str | NotGiven = NOT_GIVEN,
        region: str | NotGiven = NOT_GIVEN,
        availability_zone: str | NotGiven = NOT_GIVEN,
        status: PoolStatusEnum | NotGiven = NOT_GIVEN,
        status_message: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ResourcePool:
        """Public pools and your account's dedicated pools, with capacity and live use."""
        return self._model(
            ResourcePool,
            "PATCH",
            "/api/v1/resource-pools/{id}/",
            path={"id": id_of(id)},
            body={
                "description": description,
                "region": region,
                "availability_zone": availability_zone,
                "status": status,
                "status_message": status_message,
            },
            options=request_options,
        )


class StorageConnections(Resource):
    """Storage connections: create, delete, list, retrieve, update, verify."""

    @operation("POST", "/api/v1/storage-connections/")
    def create(
        self,
        *,
        name: str,
        bucket: str,
        scheme: StorageConnectionSchemeEnum | NotGiven = NOT_GIVEN,
        prefix: str | NotGiven = NOT_GIVEN,
        endpoint_url: str | NotGiven = NOT_GIVEN,
        region: str | NotGiven = NOT_GIVEN,
        path_style: bool | NotGiven = NOT_GIVEN,
        access_key_id: str | NotGiven = NOT_GIVEN,
        secret_access_key: str | NotGiven = NOT_GIVEN,
        role_arn: str | NotGiven = NOT_GIVEN,
        read_only: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> StorageConnection:
        """The account's own object storage (S3/OBS buckets or prefixes with the account's credentials).
        Workspaces of the account may name locations in them; members read them (never their secrets),
        account admins manage them.
        """
        return self._model(
            StorageConnection,
            "POST",
            "/api/v1/storage-connections/",
            body={
                "name": name,
                "scheme": scheme,
                "bucket": bucket,
                "prefix": prefix,
                "endpoint_url": endpoint_url,
                "region": region,
                "path_style": path_style,
                "access_key_id": access_key_id,
                "secret_access_key": secret_access_key,
                "role_arn": role_arn,
                "read_only": read_only,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/storage-connections/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """The account's own object storage (S3/OBS buckets or prefixes with the account's credentials).
        Workspaces of the account may name locations in them; members read them (never their secrets),
        account admins manage them.
        """
        return self._none(
            "DELETE",
            "/api/v1/storage-connections/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/storage-connections/")
    def list(
        self,
        *,
        bucket: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        scheme: Literal["obs", "s3"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[StorageConnection]:
        """The account's own object storage (S3/OBS buckets or prefixes with the account's credentials).
        Workspaces of the account may name locations in them; members read them (never their secrets),
        account admins manage them.
        """
        return self._page(
            StorageConnection,
            "/api/v1/storage-connections/",
            query={"bucket": bucket, "ordering": ordering, "page_size": page_size, "scheme": scheme},
            options=request_options,
        )

    @operation("GET", "/api/v1/storage-connections/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> StorageConnection:
        """The account's own object storage (S3/OBS buckets or prefixes with the account's credentials).
        Workspaces of the account may name locations in them; members read them (never their secrets),
        account admins manage them.
        """
        return self._model(
            StorageConnection,
            "GET",
            "/api/v1/storage-connections/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/storage-connections/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        name: str | NotGiven = NOT_GIVEN,
        scheme: StorageConnectionSchemeEnum | NotGiven = NOT_GIVEN,
        bucket: str | NotGiven = NOT_GIVEN,
        prefix: str | NotGiven = NOT_GIVEN,
        endpoint_url: str | NotGiven = NOT_GIVEN,
        region: str | NotGiven = NOT_GIVEN,
        path_style: bool | NotGiven = NOT_GIVEN,
        access_key_id: str | NotGiven = NOT_GIVEN,
        secret_access_key: str | NotGiven = NOT_GIVEN,
        role_arn: str | NotGiven = NOT_GIVEN,
        read_only: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> StorageConnection:
        """The account's own object storage (S3/OBS buckets or prefixes with the account's credentials).
        Workspaces of the account may name locations in them; members read them (never their secrets),
        account admins manage them.
        """
        return self._model(
            StorageConnection,
            "PATCH",
            "/api/v1/storage-connections/{id}/",
            path={"id": id_of(id)},
            body={
                "name": name,
                "scheme": scheme,
                "bucket": bucket,
                "prefix": prefix,
                "endpoint_url": endpoint_url,
                "region": region,
                "path_style": path_style,
                "access_key_id": access_key_id,
                "secret_access_key": secret_access_key,
                "role_arn": role_arn,
                "read_only": read_only,
            },
            options=request_options,
        )

    @operation("POST", "/api/v1/storage-connections/{id}/verify/")
    def verify(self, id: IdLike, *, request_options: RequestOptions | None = None) -> StorageConnectionCheck:
        """Reaches the location with the connection's credentials and says whether that worked."""
        return self._model(
            StorageConnectionCheck,
            "POST",
            "/api/v1/storage-connections/{id}/verify/",
            path={"id": id_of(id)},
            options=request_options,
        )


class TrainingJobs(_extras.TrainingJobsExtras, Resource):
    """Training jobs: compare, copy, create, delete, events, list, metrics, retrieve, stop."""

    @operation("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/compare/")
    def compare(
        self,
        *,
        jobs: str,
        metric: str | NotGiven = NOT_GIVEN,
        step_from: int | NotGiven = NOT_GIVEN,
        step_to: int | NotGiven = NOT_GIVEN,
        tolerance: float | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Comparison:
        """Two or more jobs' series of one metric aligned by step, each against the first: absolute difference,
        relative error, the first step beyond the tolerance, and a verdict (the precision pre-check before
        moving a job between GPU and NPU or changing precision).
        """
        return self._model(
            Comparison,
            "GET",
            "/api/v1/workspaces/{workspace_id}/training-jobs/compare/",
            query={"jobs": jobs, "metric": metric, "step_from": step_from, "step_to": step_to, "tolerance": tolerance},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/copy/")
    def copy(
        self,
        id: IdLike,
        *,
        flavor: str,
        pool: str,
        name: str | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        algorithm: str | None | NotGiven = NOT_GIVEN,
        image: str | NotGiven = NOT_GIVEN,
        command: builtins.list[str] | NotGiven = NOT_GIVEN,
        inputs: builtins.list[InputRequest] | NotGiven = NOT_GIVEN,
        output_uri: str | NotGiven = NOT_GIVEN,
        hyperparameters: dict[str, Any] | NotGiven = NOT_GIVEN,
        node_count: int | NotGiven = NOT_GIVEN,
        env: dict[str, str] | NotGiven = NOT_GIVEN,
        max_runtime_seconds: int | None | NotGiven = NOT_GIVEN,
        priority: int | NotGiven = NOT_GIVEN,
        tags: builtins.list[str] | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> TrainingJob:
        """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase from it.
        Delete only ended jobs; `copy` re-runs with changes.
        """
        return self._model(
            TrainingJob,
            "POST",
            "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/copy/",
            path={"id": id_of(id)},
            body={
                "name": name,
                "description": description,
                "algorithm": algorithm,
                "image": image,
                "command": command,
                "inputs": inputs,
                "output_uri": output_uri,
                "hyperparameters": hyperparameters,
                "flavor": flavor,
                "pool": pool,
                "node_count": node_count,
                "env": env,
                "max_runtime_seconds": max_runtime_seconds,
                "priority": priority,
                "tags": tags,
                "max_retries": max_retries,
            },
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/training-jobs/")
    def create(
        self,
        *,
        name: str,
        flavor: str,
        pool: str,
        description: str | NotGiven = NOT_GIVEN,
        algorithm: str | None | NotGiven = NOT_GIVEN,
        image: str | NotGiven = NOT_GIVEN,
        command: builtins.list[str] | NotGiven = NOT_GIVEN,
        inputs: builtins.list[InputRequest] | NotGiven = NOT_GIVEN,
        output_uri: str | NotGiven = NOT_GIVEN,
        hyperparameters: dict[str, Any] | NotGiven = NOT_GIVEN,
        node_count: int | NotGiven = NOT_GIVEN,
        env: dict[str, str] | NotGiven = NOT_GIVEN,
        max_runtime_seconds: int | None | NotGiven = NOT_GIVEN,
        priority: int | NotGiven = NOT_GIVEN,
        tags: builtins.list[str] | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> TrainingJob:
        """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase from it.
        Delete only ended jobs; `copy` re-runs with changes.
        """
        return self._model(
            TrainingJob,
            "POST",
            "/api/v1/workspaces/{workspace_id}/training-jobs/",
            body={
                "name": name,
                "description": description,
                "algorithm": algorithm,
                "image": image,
                "command": command,
                "inputs": inputs,
                "output_uri": output_uri,
                "hyperparameters": hyperparameters,
                "flavor": flavor,
                "pool": pool,
                "node_count": node_count,
                "env": env,
                "max_runtime_seconds": max_runtime_seconds,
                "priority": priority,
                "tags": tags,
                "max_retries": max_retries,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase from it.
        Delete only ended jobs; `copy` re-runs with changes.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/events/")
    def events(
        self,
        id: IdLike,
        *,
        algorithm: str | NotGiven = NOT_GIVEN,
        created_after: datetime | str | NotGiven = NOT_GIVEN,
        created_before: datetime | str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        phase: str | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        tag: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[JobEvent]:
        """What happened to the job, over all its attempts (a retry says from which step it resumes)."""
        return self._page(
            JobEvent,
            "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/events/",
            path={"id": id_of(id)},
            query={
                "algorithm": algorithm,
                "created_after": created_after,
                "created_before": created_before,
                "ordering": ordering,
                "page_size": page_size,
                "phase": phase,
                "pool": pool,
                "tag": tag,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/")
    def list(
        self,
        *,
        algorithm: str | NotGiven = NOT_GIVEN,
        created_after: datetime | str | NotGiven = NOT_GIVEN,
        created_before: datetime | str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        phase: str | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        tag: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[TrainingJob]:
        """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase from it.
        Delete only ended jobs; `copy` re-runs with changes.
        """
        return self._page(
            TrainingJob,
            "/api/v1/workspaces/{workspace_id}/training-jobs/",
            query={
                "algorithm": algorithm,
                "created_after": created_after,
                "created_before": created_before,
                "ordering": ordering,
                "page_size": page_size,
                "phase": phase,
                "pool": pool,
                "tag": tag,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/metrics/")
    def metrics(
        self,
        id: IdLike,
        *,
        algorithm: str | NotGiven = NOT_GIVEN,
        created_after: datetime | str | NotGiven = NOT_GIVEN,
        created_before: datetime | str | NotGiven = NOT_GIVEN,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        phase: str | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        step_from: int | NotGiven = NOT_GIVEN,
        step_to: int | NotGiven = NOT_GIVEN,
        tag: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[MetricPoint]:
        """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase from it.
        Delete only ended jobs; `copy` re-runs with changes.
        """
        return self._page(
            MetricPoint,
            "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/metrics/",
            path={"id": id_of(id)},
            query={
                "algorithm": algorithm,
                "created_after": created_after,
                "created_before": created_before,
                "name": name,
                "ordering": ordering,
                "page_size": page_size,
                "phase": phase,
                "pool": pool,
                "step_from": step_from,
                "step_to": step_to,
                "tag": tag,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> TrainingJob:
        """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase from it.
        Delete only ended jobs; `copy` re-runs with changes.
        """
        return self._model(
            TrainingJob,
            "GET",
            "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/stop/")
    def stop(self, id: IdLike, *, request_options: RequestOptions | None = None) -> TrainingJob:
        """Training jobs: each runs as a workload (pod set worker × node count) and takes its phase from it.
        Delete only ended jobs; `copy` re-runs with changes.
        """
        return self._model(
            TrainingJob,
            "POST",
            "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/stop/",
            path={"id": id_of(id)},
            options=request_options,
        )


class Workspaces(Resource):
    """Workspaces: create, delete, list, replace, retrieve, update."""

    @operation("POST", "/api/v1/workspaces/")
    def create(
        self,
        *,
        name: str,
        description: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Workspace:
        """Workspaces: the caller's own (account admins see all of their account's)."""
        return self._model(
            Workspace,
            "POST",
            "/api/v1/workspaces/",
            body={"name": name, "description": description},
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/")
    def delete(self, workspace_id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Workspaces: the caller's own (account admins see all of their account's)."""
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/",
            path={"workspace_id": id_of(workspace_id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/")
    def list(
        self,
        *,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Workspace]:
        """Workspaces: the caller's own (account admins see all of their account's)."""
        return self._page(
            Workspace,
            "/api/v1/workspaces/",
            query={"name": name, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("PUT", "/api/v1/workspaces/{workspace_id}/")
    def replace(
        self,
        workspace_id: IdLike,
        *,
        name: str,
        description: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Workspace:
        """Workspaces: the caller's own (account admins see all of their account's)."""
        return self._model(
            Workspace,
            "PUT",
            "/api/v1/workspaces/{workspace_id}/",
            path={"workspace_id": id_of(workspace_id)},
            body={"name": name, "description": description},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/")
    def retrieve(self, workspace_id: IdLike, *, request_options: RequestOptions | None = None) -> Workspace:
        """Workspaces: the caller's own (account admins see all of their account's)."""
        return self._model(
            Workspace,
            "GET",
            "/api/v1/workspaces/{workspace_id}/",
            path={"workspace_id": id_of(workspace_id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/")
    def update(
        self,
        workspace_id: IdLike,
        *,
        name: str | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Workspace:
        """Workspaces: the caller's own (account admins see all of their account's)."""
        return self._model(
            Workspace,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/",
            path={"workspace_id": id_of(workspace_id)},
            body={"name": name, "description": description},
            options=request_options,
        )


class Algorithms(Resource):
    """Algorithms: create, delete, list, retrieve, update."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/algorithms/")
    def create(
        self,
        *,
        name: str,
        image: str,
        command: builtins.list[str],
        description: str | NotGiven = NOT_GIVEN,
        input_channels: builtins.list[str] | NotGiven = NOT_GIVEN,
        output_channels: builtins.list[str] | NotGiven = NOT_GIVEN,
        hyperparameters: builtins.list[dict[str, Any]] | NotGiven = NOT_GIVEN,
        accelerator_kinds: builtins.list[str] | NotGiven = NOT_GIVEN,
        distributed: bool | NotGiven = NOT_GIVEN,
        preparation_steps: builtins.list[dict[str, Any]] | NotGiven = NOT_GIVEN,
        outputs: dict[str, Any] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Algorithm:
        """The workspace's algorithms and the platform presets (read-only here; operators manage presets in the
        admin).
        """
        return self._model(
            Algorithm,
            "POST",
            "/api/v1/workspaces/{workspace_id}/algorithms/",
            body={
                "name": name,
                "description": description,
                "image": image,
                "command": command,
                "input_channels": input_channels,
                "output_channels": output_channels,
                "hyperparameters": hyperparameters,
                "accelerator_kinds": accelerator_kinds,
                "distributed": distributed,
                "preparation_steps": preparation_steps,
                "outputs": outputs,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/algorithms/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """The workspace's algorithms and the platform presets (read-only here; operators manage presets in the
        admin).
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/algorithms/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/algorithms/")
    def list(
        self,
        *,
        distributed: bool | NotGiven = NOT_GIVEN,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Algorithm]:
        """The workspace's algorithms and the platform presets (read-only here; operators manage presets in the
        admin).
        """
        return self._page(
            Algorithm,
            "/api/v1/workspaces/{workspace_id}/algorithms/",
            query={"distributed": distributed, "name": name, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/algorithms/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Algorithm:
        """The workspace's algorithms and the platform presets (read-only here; operators manage presets in the
        admin).
        """
        return self._model(
            Algorithm,
            "GET",
            "/api/v1/workspaces/{workspace_id}/algorithms/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/algorithms/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        name: str | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        image: str | NotGiven = NOT_GIVEN,
        command: builtins.list[str] | NotGiven = NOT_GIVEN,
        input_channels: builtins.list[str] | NotGiven = NOT_GIVEN,
        output_channels: builtins.list[str] | NotGiven = NOT_GIVEN,
        hyperparameters: builtins.list[dict[str, Any]] | NotGiven = NOT_GIVEN,
        accelerator_kinds: builtins.list[str] | NotGiven = NOT_GIVEN,
        distributed: bool | NotGiven = NOT_GIVEN,
        preparation_steps: builtins.list[dict[str, Any]] | NotGiven = NOT_GIVEN,
        outputs: dict[str, Any] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Algorithm:
        """The workspace's algorithms and the platform presets (read-only here; operators manage presets in the
        admin).
        """
        return self._model(
            Algorithm,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/algorithms/{id}/",
            path={"id": id_of(id)},
            body={
                "name": name,
                "description": description,
                "image": image,
                "command": command,
                "input_channels": input_channels,
                "output_channels": output_channels,
                "hyperparameters": hyperparameters,
                "accelerator_kinds": accelerator_kinds,
                "distributed": distributed,
                "preparation_steps": preparation_steps,
                "outputs": outputs,
            },
            options=request_options,
        )


class AuditEvents(Resource):
    """Audit events: list, retrieve."""

    @operation("GET", "/api/v1/workspaces/{workspace_id}/audit-events/")
    def list(
        self,
        *,
        action: str | NotGiven = NOT_GIVEN,
        actor: str | NotGiven = NOT_GIVEN,
        created_after: datetime | str | NotGiven = NOT_GIVEN,
        created_before: datetime | str | NotGiven = NOT_GIVEN,
        method: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status_code: int | NotGiven = NOT_GIVEN,
        target_id: str | NotGiven = NOT_GIVEN,
        target_type: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[AuditEvent]:
        """Every mutating call made in the workspace. Owners only."""
        return self._page(
            AuditEvent,
            "/api/v1/workspaces/{workspace_id}/audit-events/",
            query={
                "action": action,
                "actor": actor,
                "created_after": created_after,
                "created_before": created_before,
                "method": method,
                "ordering": ordering,
                "page_size": page_size,
                "status_code": status_code,
                "target_id": target_id,
                "target_type": target_type,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/audit-events/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> AuditEvent:
        """Every mutating call made in the workspace. Owners only."""
        return self._model(
            AuditEvent,
            "GET",
            "/api/v1/workspaces/{workspace_id}/audit-events/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class CostTags(Resource):
    """Cost tags: create, delete, list, retrieve."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/cost-tags/")
    def create(self, *, workload: str, key: str, value: str, request_options: RequestOptions | None = None) -> CostTag:
        """Cost-allocation tags on the workspace's workloads. Bill lines carry them and filter by them
        (`?tag=key:value`). POST sets a tag (replacing the workload's value for that key).
        """
        return self._model(
            CostTag,
            "POST",
            "/api/v1/workspaces/{workspace_id}/cost-tags/",
            body={"workload": workload, "key": key, "value": value},
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/cost-tags/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Cost-allocation tags on the workspace's workloads. Bill lines carry them and filter by them
        (`?tag=key:value`). POST sets a tag (replacing the workload's value for that key).
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/cost-tags/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/cost-tags/")
    def list(
        self,
        *,
        key: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        value: str | NotGiven = NOT_GIVEN,
        workload: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[CostTag]:
        """Cost-allocation tags on the workspace's workloads. Bill lines carry them and filter by them
        (`?tag=key:value`). POST sets a tag (replacing the workload's value for that key).
        """
        return self._page(
            CostTag,
            "/api/v1/workspaces/{workspace_id}/cost-tags/",
            query={"key": key, "ordering": ordering, "page_size": page_size, "value": value, "workload": workload},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/cost-tags/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> CostTag:
        """Cost-allocation tags on the workspace's workloads. Bill lines carry them and filter by them
        (`?tag=key:value`). POST sets a tag (replacing the workload's value for that key).
        """
        return self._model(
            CostTag,
            "GET",
            "/api/v1/workspaces/{workspace_id}/cost-tags/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class DatasetAnnotationTaskItems(Resource):
    """Items: annotate, list, review, review_sample, submit."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/annotate/")  # noqa: E501
    def annotate(
        self,
        *,
        items: builtins.list[ItemAnnotationRequest],
        submit: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ItemBatchResult:
        """Saves annotations on your own items (assigned or rejected); `submit: true` also submits them."""
        return self._model(
            ItemBatchResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/annotate/",
            body={"items": items, "submit": submit},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/")
    def list(
        self,
        *,
        assignee: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status: Literal["accepted", "assigned", "rejected", "submitted"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[AnnotationItem]:
        """The items of an annotation task. Annotators see, annotate and submit only their own; developers and
        owners see all and review them.
        """
        return self._page(
            AnnotationItem,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/",
            query={"assignee": assignee, "ordering": ordering, "page_size": page_size, "status": status},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/review/")  # noqa: E501
    def review(
        self,
        *,
        decisions: builtins.list[ReviewDecisionRequest] | NotGiven = NOT_GIVEN,
        accept_all_submitted: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ItemBatchResult:
        """Accepts or rejects submitted items one by one, or accepts all submitted items."""
        return self._model(
            ItemBatchResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/review/",
            body={"decisions": decisions, "accept_all_submitted": accept_all_submitted},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/review-sample/")  # noqa: E501
    def review_sample(
        self,
        *,
        percent: float,
        seed: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ItemBatchResult:
        """Draws a random percentage of the submitted items for a reviewer to spot-check."""
        return self._model(
            ItemBatchResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/review-sample/",
            body={"percent": percent, "seed": seed},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/submit/")  # noqa: E501
    def submit(self, *, ids: builtins.list[int], request_options: RequestOptions | None = None) -> ItemBatchResult:
        """Submits your annotated items for review."""
        return self._model(
            ItemBatchResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/submit/",
            body={"ids": ids},
            options=request_options,
        )


class DatasetAnnotationTasks(Resource):
    """Annotation tasks: create, delete, list, retrieve."""

    def items(self, task_id: IdLike) -> DatasetAnnotationTaskItems:
        """Items of one annotation task."""
        return DatasetAnnotationTaskItems(self._client, **self._scope, task_id=id_of(task_id))

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/")
    def create(
        self,
        *,
        name: str,
        assignees: builtins.list[str],
        description: str | NotGiven = NOT_GIVEN,
        scope: AnnotationTaskScopeEnum | NotGiven = NOT_GIVEN,
        filters: SampleFiltersRequest | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> AnnotationTask:
        """Team labelling: a task deals a dataset's samples (all, unlabelled, or filtered) out to annotators;
        they annotate and submit their own items; a reviewer accepts them (the annotations land on the
        samples) or rejects them with a comment (back to the annotator).
        """
        return self._model(
            AnnotationTask,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/",
            body={"name": name, "description": description, "scope": scope, "filters": filters, "assignees": assignees},
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/")
    def delete(self, task_id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Team labelling: a task deals a dataset's samples (all, unlabelled, or filtered) out to annotators;
        they annotate and submit their own items; a reviewer accepts them (the annotations land on the
        samples) or rejects them with a comment (back to the annotator).
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/",
            path={"task_id": id_of(task_id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status: Literal["active", "completed"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[AnnotationTask]:
        """Team labelling: a task deals a dataset's samples (all, unlabelled, or filtered) out to annotators;
        they annotate and submit their own items; a reviewer accepts them (the annotations land on the
        samples) or rejects them with a comment (back to the annotator).
        """
        return self._page(
            AnnotationTask,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/",
            query={"ordering": ordering, "page_size": page_size, "status": status},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/")
    def retrieve(self, task_id: IdLike, *, request_options: RequestOptions | None = None) -> AnnotationTask:
        """Team labelling: a task deals a dataset's samples (all, unlabelled, or filtered) out to annotators;
        they annotate and submit their own items; a reviewer accepts them (the annotations land on the
        samples) or rejects them with a comment (back to the annotator).
        """
        return self._model(
            AnnotationTask,
            "GET",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/",
            path={"task_id": id_of(task_id)},
            options=request_options,
        )


class DatasetExportTasks(_extras.ExportTasksExtras, Resource):
    """Export tasks: create, list, retrieve."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/")
    def create(
        self,
        *,
        version: str | None | NotGiven = NOT_GIVEN,
        filters: SampleFiltersRequest | NotGiven = NOT_GIVEN,
        format: FormatEnum | NotGiven = NOT_GIVEN,
        target_uri: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ExportTask:
        """Exports a published version, or the samples some filters select, to a storage location (a file of
        the format's extension, or a prefix under which one is named), in a `format`: the platform's
        `manifest`, `coco` (JSON), `voc` and `yolo` (tar archives), `label_studio` (JSON) or `csv`. The
        finished task's `result_url` downloads it for a while.
        """
        return self._model(
            ExportTask,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/",
            body={"version": version, "filters": filters, "format": format, "target_uri": target_uri},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status: Literal["failed", "pending", "running", "succeeded"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[ExportTask]:
        """Exports a published version, or the samples some filters select, to a storage location (a file of
        the format's extension, or a prefix under which one is named), in a `format`: the platform's
        `manifest`, `coco` (JSON), `voc` and `yolo` (tar archives), `label_studio` (JSON) or `csv`. The
        finished task's `result_url` downloads it for a while.
        """
        return self._page(
            ExportTask,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/",
            query={"ordering": ordering, "page_size": page_size, "status": status},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> ExportTask:
        """Exports a published version, or the samples some filters select, to a storage location (a file of
        the format's extension, or a prefix under which one is named), in a `format`: the platform's
        `manifest`, `coco` (JSON), `voc` and `yolo` (tar archives), `label_studio` (JSON) or `csv`. The
        finished task's `result_url` downloads it for a while.
        """
        return self._model(
            ExportTask,
            "GET",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class DatasetImportTasks(_extras.ImportTasksExtras, Resource):
    """Import tasks: create, list, retrieve."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/")
    def create(
        self,
        *,
        kind: ImportTaskKindEnum,
        source_uri: str,
        options: Any | NotGiven = NOT_GIVEN,
        new_labels: NewLabelsEnum | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ImportTask:
        """Imports into a dataset, run in the background: `prefix` takes every object under a storage prefix
        whose extension fits the dataset type; `manifest` reads a manifest file with labels; `coco`, `voc`
        (a folder of XML files), `yolo` (a folder with classes.txt or data.yaml), `label_studio` (a JSON
        export) and `csv` (texts and labels, CSV or TSV) read those formats; `auto` tells the format from
        the source. Samples already in the dataset are skipped, bad records listed in `errors` with their
        line and where they are (`path`).
        """
        return self._model(
            ImportTask,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/",
            body={"kind": kind, "source_uri": source_uri, "options": options, "new_labels": new_labels},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/")
    def list(
        self,
        *,
        kind: Literal[
            "auto", "coco", "csv", "label_studio", "manifest", "prefix", "voc", "yolo"
        ] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status: Literal["failed", "pending", "running", "succeeded"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[ImportTask]:
        """Imports into a dataset, run in the background: `prefix` takes every object under a storage prefix
        whose extension fits the dataset type; `manifest` reads a manifest file with labels; `coco`, `voc`
        (a folder of XML files), `yolo` (a folder with classes.txt or data.yaml), `label_studio` (a JSON
        export) and `csv` (texts and labels, CSV or TSV) read those formats; `auto` tells the format from
        the source. Samples already in the dataset are skipped, bad records listed in `errors` with their
        line and where they are (`path`).
        """
        return self._page(
            ImportTask,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/",
            query={"kind": kind, "ordering": ordering, "page_size": page_size, "status": status},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> ImportTask:
        """Imports into a dataset, run in the background: `prefix` takes every object under a storage prefix
        whose extension fits the dataset type; `manifest` reads a manifest file with labels; `coco`, `voc`
        (a folder of XML files), `yolo` (a folder with classes.txt or data.yaml), `label_studio` (a JSON
        export) and `csv` (texts and labels, CSV or TSV) read those formats; `auto` tells the format from
        the source. Samples already in the dataset are skipped, bad records listed in `errors` with their
        line and where they are (`path`).
        """
        return self._model(
            ImportTask,
            "GET",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class DatasetPredictions(Resource):
    """Predictions: list, review, review_by_confidence."""

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/")
    def list(
        self,
        *,
        confidence_below: float | NotGiven = NOT_GIVEN,
        label: str | NotGiven = NOT_GIVEN,
        min_confidence: float | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        state: Literal["accepted", "predicted", "rejected"] | NotGiven = NOT_GIVEN,
        task: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Prediction]:
        """Models' predictions of the dataset's samples, filtered by state, task, label and confidence.
        Annotators review them: an accepted prediction becomes its sample's label, with the reviewer as its
        annotator; a rejected one stays recorded. Versions publish labels only.
        """
        return self._page(
            Prediction,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/",
            query={
                "confidence_below": confidence_below,
                "label": label,
                "min_confidence": min_confidence,
                "ordering": ordering,
                "page_size": page_size,
                "state": state,
                "task": task,
            },
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/review/")
    def review(
        self,
        *,
        decisions: builtins.list[PredictionDecisionRequest],
        request_options: RequestOptions | None = None,
    ) -> PredictionReviewResult:
        """Accepts or rejects predictions one by one (up to 1,000), all or none."""
        return self._model(
            PredictionReviewResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/review/",
            body={"decisions": decisions},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/review-by-confidence/")
    def review_by_confidence(
        self,
        *,
        decision: DecisionEnum,
        min_confidence: float | NotGiven = NOT_GIVEN,
        confidence_below: float | NotGiven = NOT_GIVEN,
        task: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> PredictionBulkResult:
        """Accepts every waiting prediction at least `min_confidence` sure, or rejects every one under
        `confidence_below`.
        """
        return self._model(
            PredictionBulkResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/review-by-confidence/",
            body={
                "decision": decision,
                "min_confidence": min_confidence,
                "confidence_below": confidence_below,
                "task": task,
            },
            options=request_options,
        )


class DatasetPrelabelTasks(Resource):
    """Prelabel tasks: create, list, retrieve."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/")
    def create(
        self,
        *,
        service: str,
        filters: SampleFiltersRequest | NotGiven = NOT_GIVEN,
        min_confidence: float | NotGiven = NOT_GIVEN,
        batch_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> PrelabelTask:
        """Pre-labelling, run in the background: a running service of the workspace (a text classifier
        answering `POST /predict`) is sent the samples the filters select (unlabelled ones by default) in
        batches; its answers at least `min_confidence` sure are kept as predictions for review, apart from
        the samples' labels. A re-run sends only samples without a prediction of that service.
        """
        return self._model(
            PrelabelTask,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/",
            body={"service": service, "filters": filters, "min_confidence": min_confidence, "batch_size": batch_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status: Literal["failed", "pending", "running", "succeeded"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[PrelabelTask]:
        """Pre-labelling, run in the background: a running service of the workspace (a text classifier
        answering `POST /predict`) is sent the samples the filters select (unlabelled ones by default) in
        batches; its answers at least `min_confidence` sure are kept as predictions for review, apart from
        the samples' labels. A re-run sends only samples without a prediction of that service.
        """
        return self._page(
            PrelabelTask,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/",
            query={"ordering": ordering, "page_size": page_size, "status": status},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> PrelabelTask:
        """Pre-labelling, run in the background: a running service of the workspace (a text classifier
        answering `POST /predict`) is sent the samples the filters select (unlabelled ones by default) in
        batches; its answers at least `min_confidence` sure are kept as predictions for review, apart from
        the samples' labels. A re-run sends only samples without a prediction of that service.
        """
        return self._model(
            PrelabelTask,
            "GET",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class DatasetSamples(Resource):
    """Samples: batch_annotate, batch_delete, create, list, retrieve."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/batch-annotate/")
    def batch_annotate(
        self,
        *,
        items: builtins.list[SampleAnnotationItemRequest],
        request_options: RequestOptions | None = None,
    ) -> SampleBatchResult:
        """Replaces the annotations of a batch of samples; labels must be in the label set."""
        return self._model(
            SampleBatchResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/batch-annotate/",
            body={"items": items},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/batch-delete/")
    def batch_delete(
        self,
        *,
        ids: builtins.list[int],
        request_options: RequestOptions | None = None,
    ) -> SampleBatchResult:
        """Deletes a batch of samples (their source objects stay in storage)."""
        return self._model(
            SampleBatchResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/batch-delete/",
            body={"ids": ids},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/")
    def create(
        self,
        *,
        samples: builtins.list[SampleInputRequest],
        request_options: RequestOptions | None = None,
    ) -> SampleBatchResult:
        """Adds a batch of samples."""
        return self._model(
            SampleBatchResult,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/",
            body={"samples": samples},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/")
    def list(
        self,
        *,
        annotated_by: str | NotGiven = NOT_GIVEN,
        confidence_below: float | NotGiven = NOT_GIVEN,
        label: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        prediction: Literal["accepted", "predicted", "rejected"] | NotGiven = NOT_GIVEN,
        source: str | NotGiven = NOT_GIVEN,
        status: Literal["accepted", "labelled", "rejected", "under_review", "unlabelled"] | NotGiven = NOT_GIVEN,
        usage: Literal["eval", "inference", "none", "train"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Sample]:
        """A dataset's samples, paged by cursor (`?cursor=` from `next`), filtered by status, label, usage,
        annotator or source prefix. Batches add, delete and annotate up to 1,000 samples, all or none;
        errors name the item index and field.
        """
        return self._page(
            Sample,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/",
            query={
                "annotated_by": annotated_by,
                "confidence_below": confidence_below,
                "label": label,
                "ordering": ordering,
                "page_size": page_size,
                "prediction": prediction,
                "source": source,
                "status": status,
                "usage": usage,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Sample:
        """A dataset's samples, paged by cursor (`?cursor=` from `next`), filtered by status, label, usage,
        annotator or source prefix. Batches add, delete and annotate up to 1,000 samples, all or none;
        errors name the item index and field.
        """
        return self._model(
            Sample,
            "GET",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class DatasetVersions(_extras.VersionsExtras, Resource):
    """Versions: create, delete, list, retrieve."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/")
    def create(
        self,
        *,
        name: str,
        description: str | NotGiven = NOT_GIVEN,
        train_ratio: Decimal | str | NotGiven = NOT_GIVEN,
        seed: int | None | NotGiven = NOT_GIVEN,
        stratified: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> DatasetVersion:
        """Published versions: immutable snapshots written as a manifest to the dataset's output location.
        Creating one returns at once with status `publishing`; poll until `ready`.
        """
        return self._model(
            DatasetVersion,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/",
            body={
                "name": name,
                "description": description,
                "train_ratio": train_ratio,
                "seed": seed,
                "stratified": stratified,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Published versions: immutable snapshots written as a manifest to the dataset's output location.
        Creating one returns at once with status `publishing`; poll until `ready`.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/")
    def list(
        self,
        *,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status: Literal["failed", "publishing", "ready"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[DatasetVersion]:
        """Published versions: immutable snapshots written as a manifest to the dataset's output location.
        Creating one returns at once with status `publishing`; poll until `ready`.
        """
        return self._page(
            DatasetVersion,
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/",
            query={"name": name, "ordering": ordering, "page_size": page_size, "status": status},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> DatasetVersion:
        """Published versions: immutable snapshots written as a manifest to the dataset's output location.
        Creating one returns at once with status `publishing`; poll until `ready`.
        """
        return self._model(
            DatasetVersion,
            "GET",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )


class Datasets(_extras.DatasetsExtras, Resource):
    """Datasets: create, delete, list, replace, retrieve, update."""

    def annotation_tasks(self, dataset_id: IdLike) -> DatasetAnnotationTasks:
        """Annotation tasks of one dataset."""
        return DatasetAnnotationTasks(self._client, **self._scope, dataset_id=id_of(dataset_id))

    def export_tasks(self, dataset_id: IdLike) -> DatasetExportTasks:
        """Export tasks of one dataset."""
        return DatasetExportTasks(self._client, **self._scope, dataset_id=id_of(dataset_id))

    def import_tasks(self, dataset_id: IdLike) -> DatasetImportTasks:
        """Import tasks of one dataset."""
        return DatasetImportTasks(self._client, **self._scope, dataset_id=id_of(dataset_id))

    def predictions(self, dataset_id: IdLike) -> DatasetPredictions:
        """Predictions of one dataset."""
        return DatasetPredictions(self._client, **self._scope, dataset_id=id_of(dataset_id))

    def prelabel_tasks(self, dataset_id: IdLike) -> DatasetPrelabelTasks:
        """Prelabel tasks of one dataset."""
        return DatasetPrelabelTasks(self._client, **self._scope, dataset_id=id_of(dataset_id))

    def samples(self, dataset_id: IdLike) -> DatasetSamples:
        """Samples of one dataset."""
        return DatasetSamples(self._client, **self._scope, dataset_id=id_of(dataset_id))

    def versions(self, dataset_id: IdLike) -> DatasetVersions:
        """Versions of one dataset."""
        return DatasetVersions(self._client, **self._scope, dataset_id=id_of(dataset_id))

    @operation("POST", "/api/v1/workspaces/{workspace_id}/datasets/")
    def create(
        self,
        *,
        name: str,
        type: DatasetTypeEnum,
        description: str | NotGiven = NOT_GIVEN,
        input_uri: str | NotGiven = NOT_GIVEN,
        output_uri: str | NotGiven = NOT_GIVEN,
        labels: builtins.list[LabelRequest] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Dataset:
        """Datasets of a workspace: type, storage locations, label set and sample counts. Deleting a dataset
        deletes its records, never the source objects in storage.
        """
        return self._model(
            Dataset,
            "POST",
            "/api/v1/workspaces/{workspace_id}/datasets/",
            body={
                "name": name,
                "description": description,
                "type": type,
                "input_uri": input_uri,
                "output_uri": output_uri,
                "labels": labels,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/")
    def delete(self, dataset_id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Datasets of a workspace: type, storage locations, label set and sample counts. Deleting a dataset
        deletes its records, never the source objects in storage.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/",
            path={"dataset_id": id_of(dataset_id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/")
    def list(
        self,
        *,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        status: Literal["importing", "ready"] | NotGiven = NOT_GIVEN,
        type: Literal[
            "audio_classification", "free_format", "image_classification", "named_entity", "object_detection", "speech",
            "table", "text_classification", "text_triplet", "video"
        ] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Dataset]:
        """Datasets of a workspace: type, storage locations, label set and sample counts. Deleting a dataset
        deletes its records, never the source objects in storage.
        """
        return self._page(
            Dataset,
            "/api/v1/workspaces/{workspace_id}/datasets/",
            query={"name": name, "ordering": ordering, "page_size": page_size, "status": status, "type": type},
            options=request_options,
        )

    @operation("PUT", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/")
    def replace(
        self,
        dataset_id: IdLike,
        *,
        name: str,
        type: DatasetTypeEnum,
        description: str | NotGiven = NOT_GIVEN,
        input_uri: str | NotGiven = NOT_GIVEN,
        output_uri: str | NotGiven = NOT_GIVEN,
        labels: builtins.list[LabelRequest] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Dataset:
        """Datasets of a workspace: type, storage locations, label set and sample counts. Deleting a dataset
        deletes its records, never the source objects in storage.
        """
        return self._model(
            Dataset,
            "PUT",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/",
            path={"dataset_id": id_of(dataset_id)},
            body={
                "name": name,
                "description": description,
                "type": type,
                "input_uri": input_uri,
                "output_uri": output_uri,
                "labels": labels,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/")
    def retrieve(self, dataset_id: IdLike, *, request_options: RequestOptions | None = None) -> Dataset:
        """Datasets of a workspace: type, storage locations, label set and sample counts. Deleting a dataset
        deletes its records, never the source objects in storage.
        """
        return self._model(
            Dataset,
            "GET",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/",
            path={"dataset_id": id_of(dataset_id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/")
    def update(
        self,
        dataset_id: IdLike,
        *,
        name: str | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        type: DatasetTypeEnum | NotGiven = NOT_GIVEN,
        input_uri: str | NotGiven = NOT_GIVEN,
        output_uri: str | NotGiven = NOT_GIVEN,
        labels: builtins.list[LabelRequest] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Dataset:
        """Datasets of a workspace: type, storage locations, label set and sample counts. Deleting a dataset
        deletes its records, never the source objects in storage.
        """
        return self._model(
            Dataset,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/",
            path={"dataset_id": id_of(dataset_id)},
            body={
                "name": name,
                "description": description,
                "type": type,
                "input_uri": input_uri,
                "output_uri": output_uri,
                "labels": labels,
            },
            options=request_options,
        )


class Members(Resource):
    """Members: create, delete, list, retrieve, update."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/members/")
    def create(
        self,
        *,
        username: str,
        role: MembershipRoleEnum,
        request_options: RequestOptions | None = None,
    ) -> Membership:
        """The people of a workspace and their roles. Owners manage them."""
        return self._model(
            Membership,
            "POST",
            "/api/v1/workspaces/{workspace_id}/members/",
            body={"username": username, "role": role},
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/members/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """The people of a workspace and their roles. Owners manage them."""
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/members/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/members/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        role: Literal["annotator", "developer", "owner", "viewer"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Membership]:
        """The people of a workspace and their roles. Owners manage them."""
        return self._page(
            Membership,
            "/api/v1/workspaces/{workspace_id}/members/",
            query={"ordering": ordering, "page_size": page_size, "role": role},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/members/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Membership:
        """The people of a workspace and their roles. Owners manage them."""
        return self._model(
            Membership,
            "GET",
            "/api/v1/workspaces/{workspace_id}/members/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/members/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        role: MembershipRoleEnum | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Membership:
        """The people of a workspace and their roles. Owners manage them."""
        return self._model(
            Membership,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/members/{id}/",
            path={"id": id_of(id)},
            body={"role": role},
            options=request_options,
        )


class Models(Resource):
    """Models: create, delete, list, retrieve, update."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/models/")
    def create(
        self,
        *,
        name: str,
        source: SourceEnum,
        runtime: RuntimeEnum,
        version: str | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        training_job: str | None | NotGiven = NOT_GIVEN,
        uri: str | NotGiven = NOT_GIVEN,
        adapter_uri: str | NotGiven = NOT_GIVEN,
        image: str | NotGiven = NOT_GIVEN,
        command: builtins.list[str] | NotGiven = NOT_GIVEN,
        parameters: int | None | NotGiven = NOT_GIVEN,
        expert_parameters: int | NotGiven = NOT_GIVEN,
        layers: int | None | NotGiven = NOT_GIVEN,
        hidden_size: int | None | NotGiven = NOT_GIVEN,
        attention_heads: int | None | NotGiven = NOT_GIVEN,
        kv_heads: int | None | NotGiven = NOT_GIVEN,
        head_dim: int | None | NotGiven = NOT_GIVEN,
        vocab_size: int | None | NotGiven = NOT_GIVEN,
        dtype: DtypeEnum | NotGiven = NOT_GIVEN,
        moe_experts: int | NotGiven = NOT_GIVEN,
        experts_per_token: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Model:
        """Servable models: from a training job's output, an object-storage location or an image. Architecture
        facts come from the location's config.json when there is one.
        """
        return self._model(
            Model,
            "POST",
            "/api/v1/workspaces/{workspace_id}/models/",
            body={
                "name": name,
                "version": version,
                "description": description,
                "source": source,
                "training_job": training_job,
                "uri": uri,
                "adapter_uri": adapter_uri,
                "image": image,
                "command": command,
                "runtime": runtime,
                "parameters": parameters,
                "expert_parameters": expert_parameters,
                "layers": layers,
                "hidden_size": hidden_size,
                "attention_heads": attention_heads,
                "kv_heads": kv_heads,
                "head_dim": head_dim,
                "vocab_size": vocab_size,
                "dtype": dtype,
                "moe_experts": moe_experts,
                "experts_per_token": experts_per_token,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/models/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Servable models: from a training job's output, an object-storage location or an image. Architecture
        facts come from the location's config.json when there is one.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/models/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/models/")
    def list(
        self,
        *,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        runtime: Literal["builtin", "custom", "mindie", "sglang", "tgi", "vllm"] | NotGiven = NOT_GIVEN,
        source: Literal["image", "storage", "training_job"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Model]:
        """Servable models: from a training job's output, an object-storage location or an image. Architecture
        facts come from the location's config.json when there is one.
        """
        return self._page(
            Model,
            "/api/v1/workspaces/{workspace_id}/models/",
            query={"name": name, "ordering": ordering, "page_size": page_size, "runtime": runtime, "source": source},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/models/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Model:
        """Servable models: from a training job's output, an object-storage location or an image. Architecture
        facts come from the location's config.json when there is one.
        """
        return self._model(
            Model,
            "GET",
            "/api/v1/workspaces/{workspace_id}/models/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/models/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        description: str | NotGiven = NOT_GIVEN,
        parameters: int | None | NotGiven = NOT_GIVEN,
        expert_parameters: int | NotGiven = NOT_GIVEN,
        layers: int | None | NotGiven = NOT_GIVEN,
        hidden_size: int | None | NotGiven = NOT_GIVEN,
        attention_heads: int | None | NotGiven = NOT_GIVEN,
        kv_heads: int | None | NotGiven = NOT_GIVEN,
        head_dim: int | None | NotGiven = NOT_GIVEN,
        vocab_size: int | None | NotGiven = NOT_GIVEN,
        dtype: DtypeEnum | NotGiven = NOT_GIVEN,
        moe_experts: int | NotGiven = NOT_GIVEN,
        experts_per_token: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Model:
        """Servable models: from a training job's output, an object-storage location or an image. Architecture
        facts come from the location's config.json when there is one.
        """
        return self._model(
            Model,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/models/{id}/",
            path={"id": id_of(id)},
            body={
                "description": description,
                "parameters": parameters,
                "expert_parameters": expert_parameters,
                "layers": layers,
                "hidden_size": hidden_size,
                "attention_heads": attention_heads,
                "kv_heads": kv_heads,
                "head_dim": head_dim,
                "vocab_size": vocab_size,
                "dtype": dtype,
                "moe_experts": moe_experts,
                "experts_per_token": experts_per_token,
            },
            options=request_options,
        )


class Notebooks(Resource):
    """Notebooks: create, delete, images, list, restart, retrieve, start, stop, training_jobs."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/notebooks/")
    def create(
        self,
        *,
        name: str,
        flavor: str,
        pool: str,
        storage_gib: int,
        image_name: str | NotGiven = NOT_GIVEN,
        custom_image: str | NotGiven = NOT_GIVEN,
        env: dict[str, str] | NotGiven = NOT_GIVEN,
        idle_timeout_seconds: int | NotGiven = NOT_GIVEN,
        max_lifetime_seconds: int | None | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Notebook:
        """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool and
        flavor chosen, with persistent storage that survives stop and start, reached through the platform at
        its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity.
        """
        return self._model(
            Notebook,
            "POST",
            "/api/v1/workspaces/{workspace_id}/notebooks/",
            body={
                "name": name,
                "image_name": image_name,
                "custom_image": custom_image,
                "flavor": flavor,
                "pool": pool,
                "storage_gib": storage_gib,
                "env": env,
                "idle_timeout_seconds": idle_timeout_seconds,
                "max_lifetime_seconds": max_lifetime_seconds,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/")
    def delete(
        self,
        id: IdLike,
        *,
        confirm: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> None:
        """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool and
        flavor chosen, with persistent storage that survives stop and start, reached through the platform at
        its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/notebooks/{id}/",
            path={"id": id_of(id)},
            query={"confirm": confirm},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/notebooks/images/")
    def images(self, *, request_options: RequestOptions | None = None) -> builtins.list[NotebookImage]:
        """The catalogue of notebook images, per accelerator kind, with their framework and driver versions."""
        return self._models(
            NotebookImage,
            "GET",
            "/api/v1/workspaces/{workspace_id}/notebooks/images/",
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/notebooks/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Notebook]:
        """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool and
        flavor chosen, with persistent storage that survives stop and start, reached through the platform at
        its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity.
        """
        return self._page(
            Notebook,
            "/api/v1/workspaces/{workspace_id}/notebooks/",
            query={"ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/restart/")
    def restart(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Notebook:
        """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool and
        flavor chosen, with persistent storage that survives stop and start, reached through the platform at
        its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity.
        """
        return self._model(
            Notebook,
            "POST",
            "/api/v1/workspaces/{workspace_id}/notebooks/{id}/restart/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Notebook:
        """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool and
        flavor chosen, with persistent storage that survives stop and start, reached through the platform at
        its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity.
        """
        return self._model(
            Notebook,
            "GET",
            "/api/v1/workspaces/{workspace_id}/notebooks/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/start/")
    def start(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Notebook:
        """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool and
        flavor chosen, with persistent storage that survives stop and start, reached through the platform at
        its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity.
        """
        return self._model(
            Notebook,
            "POST",
            "/api/v1/workspaces/{workspace_id}/notebooks/{id}/start/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/stop/")
    def stop(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Notebook:
        """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool and
        flavor chosen, with persistent storage that survives stop and start, reached through the platform at
        its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity.
        """
        return self._model(
            Notebook,
            "POST",
            "/api/v1/workspaces/{workspace_id}/notebooks/{id}/stop/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/training-jobs/")
    def training_jobs(
        self,
        id: IdLike,
        *,
        name: str,
        command: builtins.list[str],
        flavor: str,
        pool: str,
        env: dict[str, str] | NotGiven = NOT_GIVEN,
        max_runtime_seconds: int | None | NotGiven = NOT_GIVEN,
        priority: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> TrainingJob:
        """Run the notebook's code as a training job: the notebook's image, its storage as the job's working
        folder. The notebook must be stopped, and cannot start until the job ends.
        """
        return self._model(
            TrainingJob,
            "POST",
            "/api/v1/workspaces/{workspace_id}/notebooks/{id}/training-jobs/",
            path={"id": id_of(id)},
            body={
                "name": name,
                "command": command,
                "flavor": flavor,
                "pool": pool,
                "env": env,
                "max_runtime_seconds": max_runtime_seconds,
                "priority": priority,
            },
            options=request_options,
        )


class QuantizationJobs(Resource):
    """Quantization jobs: create, list, retrieve, stop."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/quantization-jobs/")
    def create(
        self,
        *,
        model: str,
        pool: str,
        scheme: QuantizationJobSchemeEnum,
        flavor: str | None | NotGiven = NOT_GIVEN,
        kv_cache_dtype: KvCacheDtypeEnum | NotGiven = NOT_GIVEN,
        calibration_uri: str | NotGiven = NOT_GIVEN,
        calibration_samples: int | NotGiven = NOT_GIVEN,
        output_uri: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> QuantizationJob:
        """Quantization jobs: a model's weights to W8A8 or W4A16 with llm-compressor, as a workload on a pool;
        with an fp8 or int8 KV cache, its scales calibrated on sample texts. Once it succeeds,
        `quantized_weights_uri` (and `kv_scales_uri`) go into a service's options.
        """
        return self._model(
            QuantizationJob,
            "POST",
            "/api/v1/workspaces/{workspace_id}/quantization-jobs/",
            body={
                "model": model,
                "pool": pool,
                "flavor": flavor,
                "scheme": scheme,
                "kv_cache_dtype": kv_cache_dtype,
                "calibration_uri": calibration_uri,
                "calibration_samples": calibration_samples,
                "output_uri": output_uri,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/quantization-jobs/")
    def list(
        self,
        *,
        model: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        scheme: Literal["w4a16", "w8a8"] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[QuantizationJob]:
        """Quantization jobs: a model's weights to W8A8 or W4A16 with llm-compressor, as a workload on a pool;
        with an fp8 or int8 KV cache, its scales calibrated on sample texts. Once it succeeds,
        `quantized_weights_uri` (and `kv_scales_uri`) go into a service's options.
        """
        return self._page(
            QuantizationJob,
            "/api/v1/workspaces/{workspace_id}/quantization-jobs/",
            query={"model": model, "ordering": ordering, "page_size": page_size, "scheme": scheme},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/quantization-jobs/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> QuantizationJob:
        """Quantization jobs: a model's weights to W8A8 or W4A16 with llm-compressor, as a workload on a pool;
        with an fp8 or int8 KV cache, its scales calibrated on sample texts. Once it succeeds,
        `quantized_weights_uri` (and `kv_scales_uri`) go into a service's options.
        """
        return self._model(
            QuantizationJob,
            "GET",
            "/api/v1/workspaces/{workspace_id}/quantization-jobs/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/quantization-jobs/{id}/stop/")
    def stop(self, id: IdLike, *, request_options: RequestOptions | None = None) -> QuantizationJob:
        """Quantization jobs: a model's weights to W8A8 or W4A16 with llm-compressor, as a workload on a pool;
        with an fp8 or int8 KV cache, its scales calibrated on sample texts. Once it succeeds,
        `quantized_weights_uri` (and `kv_scales_uri`) go into a service's options.
        """
        return self._model(
            QuantizationJob,
            "POST",
            "/api/v1/workspaces/{workspace_id}/quantization-jobs/{id}/stop/",
            path={"id": id_of(id)},
            options=request_options,
        )


class Quotas(Resource):
    """Quotas: create, delete, list, retrieve, update."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/quotas/")
    def create(
        self,
        *,
        pool: str,
        max_accelerators: int | None | NotGiven = NOT_GIVEN,
        max_vcpus: int | None | NotGiven = NOT_GIVEN,
        max_memory_gib: int | None | NotGiven = NOT_GIVEN,
        max_workloads: int | None | NotGiven = NOT_GIVEN,
        borrowing_limit_accelerators: int | None | NotGiven = NOT_GIVEN,
        borrowing_limit_vcpus: int | None | NotGiven = NOT_GIVEN,
        borrowing_limit_memory_gib: int | None | NotGiven = NOT_GIVEN,
        lending_limit_accelerators: int | None | NotGiven = NOT_GIVEN,
        lending_limit_vcpus: int | None | NotGiven = NOT_GIVEN,
        lending_limit_memory_gib: int | None | NotGiven = NOT_GIVEN,
        weight: Decimal | str | NotGiven = NOT_GIVEN,
        preemption_policy: PreemptionPolicyEnum | NotGiven = NOT_GIVEN,
        flavors: builtins.list[QuotaFlavorRequest] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Quota:
        """The workspace's queue (quota) per pool: nominal shares, borrowing and lending limits and weight,
        with current use and what it borrows and lends now. POST sets a pool's queue.
        """
        return self._model(
            Quota,
            "POST",
            "/api/v1/workspaces/{workspace_id}/quotas/",
            body={
                "pool": pool,
                "max_accelerators": max_accelerators,
                "max_vcpus": max_vcpus,
                "max_memory_gib": max_memory_gib,
                "max_workloads": max_workloads,
                "borrowing_limit_accelerators": borrowing_limit_accelerators,
                "borrowing_limit_vcpus": borrowing_limit_vcpus,
                "borrowing_limit_memory_gib": borrowing_limit_memory_gib,
                "lending_limit_accelerators": lending_limit_accelerators,
                "lending_limit_vcpus": lending_limit_vcpus,
                "lending_limit_memory_gib": lending_limit_memory_gib,
                "weight": weight,
                "preemption_policy": preemption_policy,
                "flavors": flavors,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/quotas/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """The workspace's queue (quota) per pool: nominal shares, borrowing and lending limits and weight,
        with current use and what it borrows and lends now. POST sets a pool's queue.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/quotas/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/quotas/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Quota]:
        """The workspace's queue (quota) per pool: nominal shares, borrowing and lending limits and weight,
        with current use and what it borrows and lends now. POST sets a pool's queue.
        """
        return self._page(
            Quota,
            "/api/v1/workspaces/{workspace_id}/quotas/",
            query={"ordering": ordering, "page_size": page_size, "pool": pool},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/quotas/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Quota:
        """The workspace's queue (quota) per pool: nominal shares, borrowing and lending limits and weight,
        with current use and what it borrows and lends now. POST sets a pool's queue.
        """
        return self._model(
            Quota,
            "GET",
            "/api/v1/workspaces/{workspace_id}/quotas/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/quotas/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        max_accelerators: int | None | NotGiven = NOT_GIVEN,
        max_vcpus: int | None | NotGiven = NOT_GIVEN,
        max_memory_gib: int | None | NotGiven = NOT_GIVEN,
        max_workloads: int | None | NotGiven = NOT_GIVEN,
        borrowing_limit_accelerators: int | None | NotGiven = NOT_GIVEN,
        borrowing_limit_vcpus: int | None | NotGiven = NOT_GIVEN,
        borrowing_limit_memory_gib: int | None | NotGiven = NOT_GIVEN,
        lending_limit_accelerators: int | None | NotGiven = NOT_GIVEN,
        lending_limit_vcpus: int | None | NotGiven = NOT_GIVEN,
        lending_limit_memory_gib: int | None | NotGiven = NOT_GIVEN,
        weight: Decimal | str | NotGiven = NOT_GIVEN,
        preemption_policy: PreemptionPolicyEnum | NotGiven = NOT_GIVEN,
        flavors: builtins.list[QuotaFlavorRequest] | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Quota:
        """The workspace's queue (quota) per pool: nominal shares, borrowing and lending limits and weight,
        with current use and what it borrows and lends now. POST sets a pool's queue.
        """
        return self._model(
            Quota,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/quotas/{id}/",
            path={"id": id_of(id)},
            body={
                "max_accelerators": max_accelerators,
                "max_vcpus": max_vcpus,
                "max_memory_gib": max_memory_gib,
                "max_workloads": max_workloads,
                "borrowing_limit_accelerators": borrowing_limit_accelerators,
                "borrowing_limit_vcpus": borrowing_limit_vcpus,
                "borrowing_limit_memory_gib": borrowing_limit_memory_gib,
                "lending_limit_accelerators": lending_limit_accelerators,
                "lending_limit_vcpus": lending_limit_vcpus,
                "lending_limit_memory_gib": lending_limit_memory_gib,
                "weight": weight,
                "preemption_policy": preemption_policy,
                "flavors": flavors,
            },
            options=request_options,
        )


class ServiceBenchmarks(_extras.BenchmarksExtras, Resource):
    """Benchmarks: create, list, retrieve, stop."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/")
    def create(
        self,
        *,
        mode: BenchmarkModeEnum,
        config: Any,
        request_options: RequestOptions | None = None,
    ) -> BenchmarkRun:
        """Benchmark runs of a running service: the platform's load generator runs as a workload on a CPU node
        of the service's pool and reports throughput and latency percentiles per load level (static: fixed
        lengths at each concurrency; dynamic: a range of concurrencies and lengths, and the highest
        concurrency meeting the targets). Listed per service, so runs compare.
        """
        return self._model(
            BenchmarkRun,
            "POST",
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/",
            body={"mode": mode, "config": config},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/")
    def list(
        self,
        *,
        mode: Literal["dynamic", "static"] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[BenchmarkRun]:
        """Benchmark runs of a running service: the platform's load generator runs as a workload on a CPU node
        of the service's pool and reports throughput and latency percentiles per load level (static: fixed
        lengths at each concurrency; dynamic: a range of concurrencies and lengths, and the highest
        concurrency meeting the targets). Listed per service, so runs compare.
        """
        return self._page(
            BenchmarkRun,
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/",
            query={"mode": mode, "ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> BenchmarkRun:
        """Benchmark runs of a running service: the platform's load generator runs as a workload on a CPU node
        of the service's pool and reports throughput and latency percentiles per load level (static: fixed
        lengths at each concurrency; dynamic: a range of concurrencies and lengths, and the highest
        concurrency meeting the targets). Listed per service, so runs compare.
        """
        return self._model(
            BenchmarkRun,
            "GET",
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/{id}/stop/")
    def stop(self, id: IdLike, *, request_options: RequestOptions | None = None) -> BenchmarkRun:
        """Benchmark runs of a running service: the platform's load generator runs as a workload on a CPU node
        of the service's pool and reports throughput and latency percentiles per load level (static: fixed
        lengths at each concurrency; dynamic: a range of concurrencies and lengths, and the highest
        concurrency meeting the targets). Listed per service, so runs compare.
        """
        return self._model(
            BenchmarkRun,
            "POST",
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/{id}/stop/",
            path={"id": id_of(id)},
            options=request_options,
        )


class ServiceLimits(Resource):
    """Limits: replace, retrieve, update."""

    @operation("PUT", "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/")
    def replace(
        self,
        *,
        requests_per_minute: int | None | NotGiven = NOT_GIVEN,
        tokens_per_minute: int | None | NotGiven = NOT_GIVEN,
        key_requests_per_minute: int | None | NotGiven = NOT_GIVEN,
        key_tokens_per_minute: int | None | NotGiven = NOT_GIVEN,
        max_streams_per_instance: int | None | NotGiven = NOT_GIVEN,
        routing: RoutingEnum | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ServiceGateway:
        """A service's limits at the gateway (empty: the platform's defaults; 0: none) and its routing (least
        outstanding requests, or prefix-aware). Members read; developers change.
        """
        return self._model(
            ServiceGateway,
            "PUT",
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/",
            body={
                "requests_per_minute": requests_per_minute,
                "tokens_per_minute": tokens_per_minute,
                "key_requests_per_minute": key_requests_per_minute,
                "key_tokens_per_minute": key_tokens_per_minute,
                "max_streams_per_instance": max_streams_per_instance,
                "routing": routing,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/")
    def retrieve(self, *, request_options: RequestOptions | None = None) -> ServiceGateway:
        """A service's limits at the gateway (empty: the platform's defaults; 0: none) and its routing (least
        outstanding requests, or prefix-aware). Members read; developers change.
        """
        return self._model(
            ServiceGateway,
            "GET",
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/",
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/")
    def update(
        self,
        *,
        requests_per_minute: int | None | NotGiven = NOT_GIVEN,
        tokens_per_minute: int | None | NotGiven = NOT_GIVEN,
        key_requests_per_minute: int | None | NotGiven = NOT_GIVEN,
        key_tokens_per_minute: int | None | NotGiven = NOT_GIVEN,
        max_streams_per_instance: int | None | NotGiven = NOT_GIVEN,
        routing: RoutingEnum | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> ServiceGateway:
        """A service's limits at the gateway (empty: the platform's defaults; 0: none) and its routing (least
        outstanding requests, or prefix-aware). Members read; developers change.
        """
        return self._model(
            ServiceGateway,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/",
            body={
                "requests_per_minute": requests_per_minute,
                "tokens_per_minute": tokens_per_minute,
                "key_requests_per_minute": key_requests_per_minute,
                "key_tokens_per_minute": key_tokens_per_minute,
                "max_streams_per_instance": max_streams_per_instance,
                "routing": routing,
            },
            options=request_options,
        )


class Services(_extras.ServicesExtras, Resource):
    """Services: create, delete, events, list, plan, retrieve, start, stop, traffic, update."""

    def benchmarks(self, service_id: IdLike) -> ServiceBenchmarks:
        """Benchmarks of one service."""
        return ServiceBenchmarks(self._client, **self._scope, service_id=id_of(service_id))

    def limits(self, service_id: IdLike) -> ServiceLimits:
        """Limits of one service."""
        return ServiceLimits(self._client, **self._scope, service_id=id_of(service_id))

    @operation("POST", "/api/v1/workspaces/{workspace_id}/services/")
    def create(
        self,
        *,
        name: str,
        model: str,
        pool: str,
        flavor: str,
        description: str | NotGiven = NOT_GIVEN,
        instance_count: int | NotGiven = NOT_GIVEN,
        mode: DeploymentModeEnum | NotGiven = NOT_GIVEN,
        prefill_instances: int | NotGiven = NOT_GIVEN,
        decode_instances: int | NotGiven = NOT_GIVEN,
        prefill_flavor: str | None | NotGiven = NOT_GIVEN,
        decode_flavor: str | None | NotGiven = NOT_GIVEN,
        router_flavor: str | None | NotGiven = NOT_GIVEN,
        tensor_parallel: int | NotGiven = NOT_GIVEN,
        pipeline_parallel: int | NotGiven = NOT_GIVEN,
        data_parallel: int | NotGiven = NOT_GIVEN,
        expert_parallel: int | NotGiven = NOT_GIVEN,
        prefix_caching: bool | NotGiven = NOT_GIVEN,
        kv_cache_dtype: KvCacheDtypeEnum | NotGiven = NOT_GIVEN,
        kv_scales_uri: str | NotGiven = NOT_GIVEN,
        max_model_len: int | NotGiven = NOT_GIVEN,
        max_num_seqs: int | NotGiven = NOT_GIVEN,
        max_num_batched_tokens: int | None | NotGiven = NOT_GIVEN,
        chunked_prefill: bool | NotGiven = NOT_GIVEN,
        kv_connector: KvConnectorEnum | NotGiven = NOT_GIVEN,
        enforce_eager: bool | NotGiven = NOT_GIVEN,
        memory_utilisation: float | NotGiven = NOT_GIVEN,
        quantization: QuantizationEnum | NotGiven = NOT_GIVEN,
        quantized_weights_uri: str | NotGiven = NOT_GIVEN,
        min_instances: int | None | NotGiven = NOT_GIVEN,
        max_instances: int | None | NotGiven = NOT_GIVEN,
        target_concurrency: int | None | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Service:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._model(
            Service,
            "POST",
            "/api/v1/workspaces/{workspace_id}/services/",
            body={
                "name": name,
                "description": description,
                "model": model,
                "pool": pool,
                "flavor": flavor,
                "instance_count": instance_count,
                "mode": mode,
                "prefill_instances": prefill_instances,
                "decode_instances": decode_instances,
                "prefill_flavor": prefill_flavor,
                "decode_flavor": decode_flavor,
                "router_flavor": router_flavor,
                "tensor_parallel": tensor_parallel,
                "pipeline_parallel": pipeline_parallel,
                "data_parallel": data_parallel,
                "expert_parallel": expert_parallel,
                "prefix_caching": prefix_caching,
                "kv_cache_dtype": kv_cache_dtype,
                "kv_scales_uri": kv_scales_uri,
                "max_model_len": max_model_len,
                "max_num_seqs": max_num_seqs,
                "max_num_batched_tokens": max_num_batched_tokens,
                "chunked_prefill": chunked_prefill,
                "kv_connector": kv_connector,
                "enforce_eager": enforce_eager,
                "memory_utilisation": memory_utilisation,
                "quantization": quantization,
                "quantized_weights_uri": quantized_weights_uri,
                "min_instances": min_instances,
                "max_instances": max_instances,
                "target_concurrency": target_concurrency,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/services/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/services/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/services/{id}/events/")
    def events(
        self,
        id: IdLike,
        *,
        mode: Literal["disaggregated", "unified"] | NotGiven = NOT_GIVEN,
        model: str | NotGiven = NOT_GIVEN,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        phase: str | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[WorkloadEvent]:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._page(
            WorkloadEvent,
            "/api/v1/workspaces/{workspace_id}/services/{id}/events/",
            path={"id": id_of(id)},
            query={
                "mode": mode,
                "model": model,
                "name": name,
                "ordering": ordering,
                "page_size": page_size,
                "phase": phase,
                "pool": pool,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/services/")
    def list(
        self,
        *,
        mode: Literal["disaggregated", "unified"] | NotGiven = NOT_GIVEN,
        model: str | NotGiven = NOT_GIVEN,
        name: str | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        phase: str | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Service]:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._page(
            Service,
            "/api/v1/workspaces/{workspace_id}/services/",
            query={
                "mode": mode,
                "model": model,
                "name": name,
                "ordering": ordering,
                "page_size": page_size,
                "phase": phase,
                "pool": pool,
            },
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/services/plan/")
    def plan(
        self,
        *,
        model: str,
        flavor: str,
        pool: str | None | NotGiven = NOT_GIVEN,
        mode: DeploymentModeEnum | NotGiven = NOT_GIVEN,
        prefill_instances: int | NotGiven = NOT_GIVEN,
        decode_instances: int | NotGiven = NOT_GIVEN,
        max_num_seqs: int | NotGiven = NOT_GIVEN,
        max_num_batched_tokens: int | None | NotGiven = NOT_GIVEN,
        chunked_prefill: bool | NotGiven = NOT_GIVEN,
        tensor_parallel: int | NotGiven = NOT_GIVEN,
        pipeline_parallel: int | NotGiven = NOT_GIVEN,
        data_parallel: int | NotGiven = NOT_GIVEN,
        expert_parallel: int | NotGiven = NOT_GIVEN,
        quantization: QuantizationEnum | NotGiven = NOT_GIVEN,
        kv_cache_dtype: KvCacheDtypeEnum | NotGiven = NOT_GIVEN,
        memory_utilisation: float | NotGiven = NOT_GIVEN,
        max_model_len: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Plan:
        """Memory per card for a model on a flavor: weights, KV cache per token, KV-token capacity per card and
        per instance (× DP) and concurrent sequences at max length, with every number and, when it does not
        fit, suggestions naming flavors and node counts the pool has. Every check that creating the service
        runs answers the same 400 here.
        """
        return self._model(
            Plan,
            "POST",
            "/api/v1/workspaces/{workspace_id}/services/plan/",
            body={
                "model": model,
                "flavor": flavor,
                "pool": pool,
                "mode": mode,
                "prefill_instances": prefill_instances,
                "decode_instances": decode_instances,
                "max_num_seqs": max_num_seqs,
                "max_num_batched_tokens": max_num_batched_tokens,
                "chunked_prefill": chunked_prefill,
                "tensor_parallel": tensor_parallel,
                "pipeline_parallel": pipeline_parallel,
                "data_parallel": data_parallel,
                "expert_parallel": expert_parallel,
                "quantization": quantization,
                "kv_cache_dtype": kv_cache_dtype,
                "memory_utilisation": memory_utilisation,
                "max_model_len": max_model_len,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/services/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Service:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._model(
            Service,
            "GET",
            "/api/v1/workspaces/{workspace_id}/services/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/services/{id}/start/")
    def start(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Service:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._model(
            Service,
            "POST",
            "/api/v1/workspaces/{workspace_id}/services/{id}/start/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/services/{id}/stop/")
    def stop(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Service:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._model(
            Service,
            "POST",
            "/api/v1/workspaces/{workspace_id}/services/{id}/stop/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/traffic/")
    def traffic(
        self,
        service_id: IdLike,
        *,
        api_key: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        since: datetime | str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Traffic]:
        """Requests to a service through the gateway per minute, newest first: count, errors, prompt and
        completion tokens, mean and max latency, mean time to first token of streamed answers. Written by
        the gateway's metering every few seconds (GATEWAY_METER_FLUSH_SECONDS).
        """
        return self._page(
            Traffic,
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/traffic/",
            path={"service_id": id_of(service_id)},
            query={"api_key": api_key, "page_size": page_size, "since": since},
            options=request_options,
        )

    @operation("PATCH", "/api/v1/workspaces/{workspace_id}/services/{id}/")
    def update(
        self,
        id: IdLike,
        *,
        description: str | NotGiven = NOT_GIVEN,
        model: str | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        flavor: str | NotGiven = NOT_GIVEN,
        instance_count: int | NotGiven = NOT_GIVEN,
        mode: DeploymentModeEnum | NotGiven = NOT_GIVEN,
        prefill_instances: int | NotGiven = NOT_GIVEN,
        decode_instances: int | NotGiven = NOT_GIVEN,
        prefill_flavor: str | None | NotGiven = NOT_GIVEN,
        decode_flavor: str | None | NotGiven = NOT_GIVEN,
        router_flavor: str | None | NotGiven = NOT_GIVEN,
        tensor_parallel: int | NotGiven = NOT_GIVEN,
        pipeline_parallel: int | NotGiven = NOT_GIVEN,
        data_parallel: int | NotGiven = NOT_GIVEN,
        expert_parallel: int | NotGiven = NOT_GIVEN,
        prefix_caching: bool | NotGiven = NOT_GIVEN,
        kv_cache_dtype: KvCacheDtypeEnum | NotGiven = NOT_GIVEN,
        kv_scales_uri: str | NotGiven = NOT_GIVEN,
        max_model_len: int | NotGiven = NOT_GIVEN,
        max_num_seqs: int | NotGiven = NOT_GIVEN,
        max_num_batched_tokens: int | None | NotGiven = NOT_GIVEN,
        chunked_prefill: bool | NotGiven = NOT_GIVEN,
        kv_connector: KvConnectorEnum | NotGiven = NOT_GIVEN,
        enforce_eager: bool | NotGiven = NOT_GIVEN,
        memory_utilisation: float | NotGiven = NOT_GIVEN,
        quantization: QuantizationEnum | NotGiven = NOT_GIVEN,
        quantized_weights_uri: str | NotGiven = NOT_GIVEN,
        min_instances: int | None | NotGiven = NOT_GIVEN,
        max_instances: int | None | NotGiven = NOT_GIVEN,
        target_concurrency: int | None | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Service:
        """Online services. Creating or updating one checks parallelism, quantization and KV-cache options
        against the runtime and the flavor, plans the memory, generates the runtime's launch arguments and
        deploys it as a workload; what cannot run is refused with the numbers.
        """
        return self._model(
            Service,
            "PATCH",
            "/api/v1/workspaces/{workspace_id}/services/{id}/",
            path={"id": id_of(id)},
            body={
                "description": description,
                "model": model,
                "pool": pool,
                "flavor": flavor,
                "instance_count": instance_count,
                "mode": mode,
                "prefill_instances": prefill_instances,
                "decode_instances": decode_instances,
                "prefill_flavor": prefill_flavor,
                "decode_flavor": decode_flavor,
                "router_flavor": router_flavor,
                "tensor_parallel": tensor_parallel,
                "pipeline_parallel": pipeline_parallel,
                "data_parallel": data_parallel,
                "expert_parallel": expert_parallel,
                "prefix_caching": prefix_caching,
                "kv_cache_dtype": kv_cache_dtype,
                "kv_scales_uri": kv_scales_uri,
                "max_model_len": max_model_len,
                "max_num_seqs": max_num_seqs,
                "max_num_batched_tokens": max_num_batched_tokens,
                "chunked_prefill": chunked_prefill,
                "kv_connector": kv_connector,
                "enforce_eager": enforce_eager,
                "memory_utilisation": memory_utilisation,
                "quantization": quantization,
                "quantized_weights_uri": quantized_weights_uri,
                "min_instances": min_instances,
                "max_instances": max_instances,
                "target_concurrency": target_concurrency,
            },
            options=request_options,
        )


class Uploads(_extras.UploadsExtras, Resource):
    """Uploads: complete, create, delete, put_part, retrieve."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/complete/")
    def complete(self, upload_id: IdLike, *, request_options: RequestOptions | None = None) -> UploadedObject:
        """Makes the object from the parts; 409 naming the parts that have not arrived whole."""
        return self._model(
            UploadedObject,
            "POST",
            "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/complete/",
            path={"upload_id": id_of(upload_id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/uploads/")
    def create(self, *, uri: str, size: int, request_options: RequestOptions | None = None) -> Upload:
        """Uploads in parts into the workspace's own locations: start one (POST), PUT its parts where it says
        (presigned S3/OBS links, or this API's part endpoint for the embedded storage), ask which parts
        arrived (GET, to resume), then complete it; the object appears whole then.
        """
        return self._model(
            Upload,
            "POST",
            "/api/v1/workspaces/{workspace_id}/uploads/",
            body={"uri": uri, "size": size},
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/")
    def delete(self, upload_id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """Aborts the upload; the parts it received go."""
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/",
            path={"upload_id": id_of(upload_id)},
            options=request_options,
        )

    @operation("PUT", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/parts/{number}/")
    def put_part(
        self,
        upload_id: IdLike,
        number: IdLike,
        *,
        content: bytes,
        request_options: RequestOptions | None = None,
    ) -> UploadPartWritten:
        """Stores one part (embedded storage): exactly the part's bytes, streamed; sending a part again
        replaces it.
        """
        return self._model(
            UploadPartWritten,
            "PUT",
            "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/parts/{number}/",
            path={"upload_id": id_of(upload_id), "number": id_of(number)},
            content=content,
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/")
    def retrieve(self, upload_id: IdLike, *, request_options: RequestOptions | None = None) -> Upload:
        """The upload's parts: which arrived, and fresh links for the rest."""
        return self._model(
            Upload,
            "GET",
            "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/",
            path={"upload_id": id_of(upload_id)},
            options=request_options,
        )


class Visualizations(Resource):
    """Visualizations: create, delete, list, retrieve, stop, tensorboard_get, tensorboard_post."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/visualizations/")
    def create(
        self,
        *,
        name: str,
        training_jobs: builtins.list[str],
        pool: str,
        flavor: str | None | NotGiven = NOT_GIVEN,
        idle_timeout_seconds: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Visualization:
        """TensorBoard over training jobs' logs (the LLM recipe writes them under tensorboard/): a small CPU
        workload, opened through the platform at its `url` with your credentials, stopped after
        `idle_timeout_seconds` without a visit.
        """
        return self._model(
            Visualization,
            "POST",
            "/api/v1/workspaces/{workspace_id}/visualizations/",
            body={
                "name": name,
                "training_jobs": training_jobs,
                "pool": pool,
                "flavor": flavor,
                "idle_timeout_seconds": idle_timeout_seconds,
            },
            options=request_options,
        )

    @operation("DELETE", "/api/v1/workspaces/{workspace_id}/visualizations/{id}/")
    def delete(self, id: IdLike, *, request_options: RequestOptions | None = None) -> None:
        """TensorBoard over training jobs' logs (the LLM recipe writes them under tensorboard/): a small CPU
        workload, opened through the platform at its `url` with your credentials, stopped after
        `idle_timeout_seconds` without a visit.
        """
        return self._none(
            "DELETE",
            "/api/v1/workspaces/{workspace_id}/visualizations/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/visualizations/")
    def list(
        self,
        *,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Visualization]:
        """TensorBoard over training jobs' logs (the LLM recipe writes them under tensorboard/): a small CPU
        workload, opened through the platform at its `url` with your credentials, stopped after
        `idle_timeout_seconds` without a visit.
        """
        return self._page(
            Visualization,
            "/api/v1/workspaces/{workspace_id}/visualizations/",
            query={"ordering": ordering, "page_size": page_size},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/visualizations/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Visualization:
        """TensorBoard over training jobs' logs (the LLM recipe writes them under tensorboard/): a small CPU
        workload, opened through the platform at its `url` with your credentials, stopped after
        `idle_timeout_seconds` without a visit.
        """
        return self._model(
            Visualization,
            "GET",
            "/api/v1/workspaces/{workspace_id}/visualizations/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/visualizations/{id}/stop/")
    def stop(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Visualization:
        """TensorBoard over training jobs' logs (the LLM recipe writes them under tensorboard/): a small CPU
        workload, opened through the platform at its `url` with your credentials, stopped after
        `idle_timeout_seconds` without a visit.
        """
        return self._model(
            Visualization,
            "POST",
            "/api/v1/workspaces/{workspace_id}/visualizations/{id}/stop/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/visualizations/{visualization_id}/tensorboard/{path}")
    def tensorboard_get(
        self,
        visualization_id: IdLike,
        path: IdLike,
        *,
        request_options: RequestOptions | None = None,
    ) -> Any:
        """TensorBoard's pages and data, through the platform with the caller's credentials (any member of the
        workspace may look).
        """
        return self._any(
            "GET",
            "/api/v1/workspaces/{workspace_id}/visualizations/{visualization_id}/tensorboard/{path}",
            path={"visualization_id": id_of(visualization_id), "path": id_of(path)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/visualizations/{visualization_id}/tensorboard/{path}")
    def tensorboard_post(
        self,
        visualization_id: IdLike,
        path: IdLike,
        *,
        request_options: RequestOptions | None = None,
    ) -> Any:
        """TensorBoard's pages and data, through the platform with the caller's credentials (any member of the
        workspace may look).
        """
        return self._any(
            "POST",
            "/api/v1/workspaces/{workspace_id}/visualizations/{visualization_id}/tensorboard/{path}",
            path={"visualization_id": id_of(visualization_id), "path": id_of(path)},
            options=request_options,
        )


class Workloads(_extras.WorkloadsExtras, Resource):
    """Workloads: create, events, list, logs, retrieve, stop."""

    @operation("POST", "/api/v1/workspaces/{workspace_id}/workloads/")
    def create(
        self,
        *,
        name: str,
        pool: str,
        pod_sets: builtins.list[PodSetRequest],
        priority: int | NotGiven = NOT_GIVEN,
        image: str | NotGiven = NOT_GIVEN,
        command: builtins.list[str] | NotGiven = NOT_GIVEN,
        env: dict[str, str] | NotGiven = NOT_GIVEN,
        max_runtime_seconds: int | None | NotGiven = NOT_GIVEN,
        preemptible: bool | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Workload:
        """Everything that uses pool capacity in the workspace: phase, pending reason, queue position and,
        while queued, when it is expected to start and why then; pod sets. Training jobs and services create
        theirs; POST creates a custom one.
        """
        return self._model(
            Workload,
            "POST",
            "/api/v1/workspaces/{workspace_id}/workloads/",
            body={
                "name": name,
                "pool": pool,
                "priority": priority,
                "pod_sets": pod_sets,
                "image": image,
                "command": command,
                "env": env,
                "max_runtime_seconds": max_runtime_seconds,
                "preemptible": preemptible,
            },
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/workloads/{id}/events/")
    def events(
        self,
        id: IdLike,
        *,
        kind: Literal[
            "benchmark", "custom", "inference", "notebook", "training", "visualization"
        ] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        phase: Literal[
            "admitted", "failed", "pending", "queued", "running", "stopped", "stopping", "succeeded"
        ] | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[WorkloadEvent]:
        """Everything that uses pool capacity in the workspace: phase, pending reason, queue position and,
        while queued, when it is expected to start and why then; pod sets. Training jobs and services create
        theirs; POST creates a custom one.
        """
        return self._page(
            WorkloadEvent,
            "/api/v1/workspaces/{workspace_id}/workloads/{id}/events/",
            path={"id": id_of(id)},
            query={"kind": kind, "ordering": ordering, "page_size": page_size, "phase": phase, "pool": pool},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/workloads/")
    def list(
        self,
        *,
        kind: Literal[
            "benchmark", "custom", "inference", "notebook", "training", "visualization"
        ] | NotGiven = NOT_GIVEN,
        ordering: str | NotGiven = NOT_GIVEN,
        page_size: int | NotGiven = NOT_GIVEN,
        phase: Literal[
            "admitted", "failed", "pending", "queued", "running", "stopped", "stopping", "succeeded"
        ] | NotGiven = NOT_GIVEN,
        pool: str | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> Paginator[Workload]:
        """Everything that uses pool capacity in the workspace: phase, pending reason, queue position and,
        while queued, when it is expected to start and why then; pod sets. Training jobs and services create
        theirs; POST creates a custom one.
        """
        return self._page(
            Workload,
            "/api/v1/workspaces/{workspace_id}/workloads/",
            query={"kind": kind, "ordering": ordering, "page_size": page_size, "phase": phase, "pool": pool},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/workloads/{workload_id}/logs/")
    def logs(
        self,
        workload_id: IdLike,
        *,
        replica: str | NotGiven = NOT_GIVEN,
        tail: int | NotGiven = NOT_GIVEN,
        request_options: RequestOptions | None = None,
    ) -> WorkloadLogs:
        """The output of a workload's replicas, from whichever backend runs it: the last lines as JSON, or with
        follow=true a text/plain stream of new lines until the replica ends. Follows are the gateway's
        (gateway.app: `make run` and production send them there, so they hold no API worker); one that
        reaches the API directly is still answered, by the worker, as before.
        """
        return self._model(
            WorkloadLogs,
            "GET",
            "/api/v1/workspaces/{workspace_id}/workloads/{workload_id}/logs/",
            path={"workload_id": id_of(workload_id)},
            query={"replica": replica, "tail": tail},
            options=request_options,
        )

    @operation("GET", "/api/v1/workspaces/{workspace_id}/workloads/{id}/")
    def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Workload:
        """Everything that uses pool capacity in the workspace: phase, pending reason, queue position and,
        while queued, when it is expected to start and why then; pod sets. Training jobs and services create
        theirs; POST creates a custom one.
        """
        return self._model(
            Workload,
            "GET",
            "/api/v1/workspaces/{workspace_id}/workloads/{id}/",
            path={"id": id_of(id)},
            options=request_options,
        )

    @operation("POST", "/api/v1/workspaces/{workspace_id}/workloads/{id}/stop/")
    def stop(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Workload:
        """Everything that uses pool capacity in the workspace: phase, pending reason, queue position and,
        while queued, when it is expected to start and why then; pod sets. Training jobs and services create
        theirs; POST creates a custom one.
        """
        return self._model(
            Workload,
            "POST",
            "/api/v1/workspaces/{workspace_id}/workloads/{id}/stop/",
            path={"id": id_of(id)},
            options=request_options,
        )


class RootResources(_extras.RootExtras):
    """The API resources of a client."""

    @property
    def account_users(self) -> AccountUsers:
        return AccountUsers(cast("Client", self))

    @property
    def api_keys(self) -> ApiKeys:
        return ApiKeys(cast("Client", self))

    @property
    def runtime(self) -> Runtime:
        return Runtime(cast("Client", self))

    @property
    def billing(self) -> Billing:
        return Billing(cast("Client", self))

    @property
    def flavors(self) -> Flavors:
        return Flavors(cast("Client", self))

    @property
    def invitations(self) -> Invitations:
        return Invitations(cast("Client", self))

    @property
    def prices(self) -> Prices:
        return Prices(cast("Client", self))

    @property
    def resource_pools(self) -> ResourcePools:
        return ResourcePools(cast("Client", self))

    @property
    def storage_connections(self) -> StorageConnections:
        return StorageConnections(cast("Client", self))

    @property
    def training_jobs(self) -> TrainingJobs:
        return TrainingJobs(cast("Client", self))

    @property
    def workspaces(self) -> Workspaces:
        return Workspaces(cast("Client", self))

    @property
    def algorithms(self) -> Algorithms:
        return Algorithms(cast("Client", self))

    @property
    def audit_events(self) -> AuditEvents:
        return AuditEvents(cast("Client", self))

    @property
    def cost_tags(self) -> CostTags:
        return CostTags(cast("Client", self))

    @property
    def datasets(self) -> Datasets:
        return Datasets(cast("Client", self))

    @property
    def members(self) -> Members:
        return Members(cast("Client", self))

    @property
    def models(self) -> Models:
        return Models(cast("Client", self))

    @property
    def notebooks(self) -> Notebooks:
        return Notebooks(cast("Client", self))

    @property
    def quantization_jobs(self) -> QuantizationJobs:
        return QuantizationJobs(cast("Client", self))

    @property
    def quotas(self) -> Quotas:
        return Quotas(cast("Client", self))

    @property
    def services(self) -> Services:
        return Services(cast("Client", self))

    @property
    def uploads(self) -> Uploads:
        return Uploads(cast("Client", self))

    @property
    def visualizations(self) -> Visualizations:
        return Visualizations(cast("Client", self))

    @property
    def workloads(self) -> Workloads:
        return Workloads(cast("Client", self))

    @operation("GET", "/api/v1/me/")
    def me(self, *, request_options: RequestOptions | None = None) -> Me:
        """Who the caller is: account, operator flag and workspaces with roles."""
        return Resource(cast("Client", self))._model(Me, "GET", "/api/v1/me/", options=request_options)


# Every API operation the resources above call, as (method, path) of the schema.
OPERATIONS: frozenset[tuple[str, str]] = frozenset({
    ("DELETE", "/api/v1/api-keys/{id}/"),
    ("DELETE", "/api/v1/flavors/{name}/"),
    ("DELETE", "/api/v1/prices/{id}/"),
    ("DELETE", "/api/v1/resource-pools/{id}/"),
    ("DELETE", "/api/v1/resource-pools/{pool_id}/nodes/{id}/"),
    ("DELETE", "/api/v1/storage-connections/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/algorithms/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/cost-tags/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/members/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/models/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/quotas/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/services/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/visualizations/{id}/"),
    ("GET", "/api/v1/account-users/"),
    ("GET", "/api/v1/account-users/{user_id}/"),
    ("GET", "/api/v1/api-keys/"),
    ("GET", "/api/v1/api-keys/{id}/"),
    ("GET", "/api/v1/billing/accounts/"),
    ("GET", "/api/v1/billing/accounts/{account}/"),
    ("GET", "/api/v1/billing/bills/"),
    ("GET", "/api/v1/billing/bills/{bill_id}/lines/"),
    ("GET", "/api/v1/billing/bills/{id}/"),
    ("GET", "/api/v1/billing/bills/{id}/csv/"),
    ("GET", "/api/v1/billing/ledger/"),
    ("GET", "/api/v1/billing/notifications/"),
    ("GET", "/api/v1/billing/notifications/{id}/"),
    ("GET", "/api/v1/billing/package-offers/"),
    ("GET", "/api/v1/billing/package-offers/{id}/"),
    ("GET", "/api/v1/billing/packages/"),
    ("GET", "/api/v1/billing/packages/{id}/"),
    ("GET", "/api/v1/billing/subscriptions/"),
    ("GET", "/api/v1/billing/subscriptions/{id}/"),
    ("GET", "/api/v1/billing/subscriptions/{id}/events/"),
    ("GET", "/api/v1/billing/usage-records/"),
    ("GET", "/api/v1/billing/usage-records/{id}/"),
    ("GET", "/api/v1/flavors/"),
    ("GET", "/api/v1/flavors/{name}/"),
    ("GET", "/api/v1/me/"),
    ("GET", "/api/v1/prices/"),
    ("GET", "/api/v1/prices/estimate/"),
    ("GET", "/api/v1/prices/{id}/"),
    ("GET", "/api/v1/resource-pools/"),
    ("GET", "/api/v1/resource-pools/{id}/"),
    ("GET", "/api/v1/resource-pools/{pool_id}/nodes/"),
    ("GET", "/api/v1/resource-pools/{pool_id}/nodes/{id}/"),
    ("GET", "/api/v1/storage-connections/"),
    ("GET", "/api/v1/storage-connections/{id}/"),
    ("GET", "/api/v1/workspaces/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/algorithms/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/algorithms/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/audit-events/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/audit-events/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/cost-tags/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/cost-tags/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/members/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/members/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/models/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/models/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/notebooks/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/notebooks/images/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/quantization-jobs/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/quantization-jobs/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/quotas/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/quotas/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/services/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/services/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/services/{id}/events/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/services/{service_id}/traffic/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/compare/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/events/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/metrics/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/visualizations/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/visualizations/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/visualizations/{visualization_id}/tensorboard/{path}"),
    ("GET", "/api/v1/workspaces/{workspace_id}/workloads/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/workloads/{id}/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/workloads/{id}/events/"),
    ("GET", "/api/v1/workspaces/{workspace_id}/workloads/{workload_id}/logs/"),
    ("PATCH", "/api/v1/account-users/{user_id}/"),
    ("PATCH", "/api/v1/billing/package-offers/{id}/"),
    ("PATCH", "/api/v1/billing/subscriptions/{id}/"),
    ("PATCH", "/api/v1/flavors/{name}/"),
    ("PATCH", "/api/v1/resource-pools/{id}/"),
    ("PATCH", "/api/v1/resource-pools/{pool_id}/nodes/{id}/"),
    ("PATCH", "/api/v1/storage-connections/{id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/algorithms/{id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/members/{id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/models/{id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/quotas/{id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/services/{id}/"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/"),
    ("POST", "/api/v1/account-users/{user_id}/invitation/"),
    ("POST", "/api/v1/api-keys/"),
    ("POST", "/api/v1/benchmark-runs/{run_id}/result/"),
    ("POST", "/api/v1/billing/bills/"),
    ("POST", "/api/v1/billing/notifications/{id}/read/"),
    ("POST", "/api/v1/billing/package-offers/"),
    ("POST", "/api/v1/billing/packages/"),
    ("POST", "/api/v1/billing/subscriptions/"),
    ("POST", "/api/v1/billing/subscriptions/{id}/add-nodes/"),
    ("POST", "/api/v1/billing/subscriptions/{id}/renew/"),
    ("POST", "/api/v1/billing/subscriptions/{id}/unsubscribe/"),
    ("POST", "/api/v1/billing/top-ups/"),
    ("POST", "/api/v1/flavors/"),
    ("POST", "/api/v1/invitations/"),
    ("POST", "/api/v1/prices/"),
    ("POST", "/api/v1/resource-pools/"),
    ("POST", "/api/v1/resource-pools/{pool_id}/nodes/"),
    ("POST", "/api/v1/storage-connections/"),
    ("POST", "/api/v1/storage-connections/{id}/verify/"),
    ("POST", "/api/v1/training-jobs/{job_id}/metrics/"),
    ("POST", "/api/v1/workspaces/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/algorithms/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/cost-tags/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/annotate/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/review-sample/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/review/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/annotation-tasks/{task_id}/items/submit/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/export-tasks/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/import-tasks/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/review-by-confidence/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/predictions/review/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/prelabel-tasks/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/batch-annotate/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/samples/batch-delete/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/versions/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/members/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/models/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/notebooks/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/restart/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/start/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/stop/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/notebooks/{id}/training-jobs/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/quantization-jobs/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/quantization-jobs/{id}/stop/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/quotas/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/services/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/services/plan/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/services/{id}/start/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/services/{id}/stop/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/services/{service_id}/benchmarks/{id}/stop/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/training-jobs/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/copy/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/training-jobs/{id}/stop/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/uploads/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/complete/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/visualizations/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/visualizations/{id}/stop/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/visualizations/{visualization_id}/tensorboard/{path}"),
    ("POST", "/api/v1/workspaces/{workspace_id}/workloads/"),
    ("POST", "/api/v1/workspaces/{workspace_id}/workloads/{id}/stop/"),
    ("PUT", "/api/v1/billing/package-offers/{id}/"),
    ("PUT", "/api/v1/flavors/{name}/"),
    ("PUT", "/api/v1/workspaces/{workspace_id}/"),
    ("PUT", "/api/v1/workspaces/{workspace_id}/datasets/{dataset_id}/"),
    ("PUT", "/api/v1/workspaces/{workspace_id}/services/{service_id}/limits/"),
    ("PUT", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/parts/{number}/"),
})

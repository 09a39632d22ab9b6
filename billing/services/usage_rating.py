"""Rating of node-hour usage: the transaction that locks accounts, reads the usage through the
rating store, rates it (billing.rating) beside the writing of earlier parts, and writes the runs,
debits, deductions, warnings and cursors (billing.rating_store)."""

import functools
import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from aiplatform import sql as aiplatform_sql
from aiplatform.process import thread_alongside
from resourcepools.models import Flavor

from .. import rating, rating_store, rules, selectors
from ..models import BillingAccount, LedgerKind, Package, UsageRecord
from ..rating_store import Notice
from .notifications import _mail_new
from .token_rating import rate_token_usage

logger = logging.getLogger(__name__)


def rate_usage(*, account_ids=None, now: datetime | None = None, batch: int = 1_000_000) -> int:
    """Rate the usage recorded so far; returns the records rated. Accounts are rated together in
    one pass over the usage per cursor, from the furthest on (normally one pass for all), at most
    `batch` record ids at a time. Safe to run twice at once: an account being rated or metered
    elsewhere is skipped (its row is locked) and rated by the next run."""
    now = now or timezone.now()
    through = UsageRecord.objects.aggregate(last=Max("pk"))["last"] or 0
    groups = selectors.accounts_to_rate(through=through, account_ids=account_ids)
    rated = 0
    for cursor in sorted(groups, reverse=True):
        # Accounts further behind join when they have nothing unrated up to this cursor (one that
        # was idle since its last rating): so an account starting again needs no pass of its own.
        accounts = [a for behind, group in groups.items() if behind <= cursor for a in group]
        # The first pass's records are all of its own accounts (every account with records after
        # its cursor is in it), so it reads its ranges whole; later passes pick their accounts'.
        whole_range = account_ids is None and cursor == max(groups)
        for after in range(cursor, through, batch):
            rated += rate_range(account_ids=accounts, after=after, through=min(after + batch, through), now=now,
                                whole_range=whole_range)
    return rated + rate_token_usage(account_ids=account_ids, now=now)


@transaction.atomic
def rate_range(*, account_ids, after: int, through: int, now: datetime, whole_range: bool = False) -> int:
    """Rate the accounts' usage records with ids in (after, through], in one transaction: package
    deductions, pay-per-use at the price in force when the usage started, the balance debits with
    their ledger entries, the rating runs' lines and the cursors. Accounts whose row is locked
    elsewhere are left out, and so are those behind `after` with records not rated up to it. With
    `whole_range`, the range is read whole and other accounts' records dropped, rather than each
    record's account tested: for ranges that hold (almost) only these accounts' records."""
    locked = BillingAccount.objects.select_for_update(skip_locked=True).filter(
        account_id__in=aiplatform_sql.uuids_in(account_ids), rated_through_id__lte=after)
    accounts, behind = {}, []
    for account_id, cursor, balance, arrears_since in locked.order_by("account_id").values_list(
            aiplatform_sql.uuid_text("account_id"), "rated_through_id", "balance", "arrears_since"):
        accounts[str(account_id)] = _Balance(balance, arrears_since)
        if cursor < after:
            behind.append(str(account_id))
    if behind:
        # Checked under the lock, by a statement that sees every meter that committed before it.
        for account_id in BillingAccount.objects.filter(account_id__in=aiplatform_sql.uuids_in(behind)).filter(Exists(
                UsageRecord.objects.filter(account_id=OuterRef("account_id"), pk__gt=OuterRef("rated_through_id"),
                                           pk__lte=after))).values_list("account_id", flat=True):
            del accounts[str(account_id)]
    if not accounts:
        return 0
    # One aggregate over a million records wants more than the default 4 MB to stay in memory.
    # It reads the usage_runs index from end to end, whose pages the default random_page_cost
    # (4, made for spinning disks) prices as seeks; at the usual value for SSDs the planner reads
    # that index rather than the table three times its size.
    aiplatform_sql.set_local(work_mem="64MB", random_page_cost="1.1")
    prices = selectors.prices_in_force()
    unpriced = list(Flavor.objects.exclude(pk__in=list(prices.changes)).values_list("pk", flat=True))
    waiting = selectors.first_unpriced_usage(flavor_ids=unpriced, account_ids=list(accounts), after=after,
                                             through=through) if unpriced else {}
    rated = 0
    for account_id, first in waiting.items():
        # Usage of a flavor without a price waits for one; the account is rated up to it.
        logger.warning("usage of a flavor without a price waits; account %s is rated up to record %s",
                       account_id, first - 1)
        if first - 1 > after:
            rated += _rate_accounts(balances={account_id: accounts[account_id]}, after=after, through=first - 1,
                                    prices=prices, now=now)
    return rated + _rate_accounts(balances={a: b for a, b in accounts.items() if a not in waiting}, after=after,
                                  through=through, prices=prices, now=now, whole_range=whole_range)


class _Balance(NamedTuple):
    """A locked account's balance as rating found it."""

    balance: Decimal
    arrears_since: datetime | None


# Accounts rated at a time: the next ones are rated (Python) while these are written (the
# database). The first part is small, so that writing starts soon.
RATED_FIRST, RATED_TOGETHER = 40, 200


def _rate_accounts(*, balances: dict[str, _Balance], after: int, through: int, prices: rating.PricesInForce,
                   now: datetime, whole_range: bool = False) -> int:
    if not balances:
        return 0
    summaries = rating_store.read_summaries(account_ids=balances, after=after, through=through,
                                            whole_range=whole_range)
    with thread_alongside("rating") as rater:
        # The summaries become usages there while the packages are read here.
        gathering = rater.submit(rating.gather, summaries)
        packages = _locked_packages(account_ids=balances, since=rating.moment(min(s.first for s in summaries))
                                    ) if summaries else {}
        usages, pod_sets, scattered, records = gathering.result()
        if scattered:
            for record in rating_store.read_records(pod_set_ids=scattered, account_ids=list(balances), after=after,
                                                    through=through):
                summary = scattered[record.pod_set_id]
                usages[summary.account_id].append(rating.Usage.of_record(record, summary.family))
        rate_some = functools.partial(
            _rate_some, balances=balances, usages=usages, packages=packages, pod_sets=pod_sets, prices=prices,
            # Usage rated after its month's bill closed goes on the first open month's bill (at
            # the price of when it ran), so a closed bill never changes.
            first_open=rules.month_start(now - timedelta(hours=settings.BILLING_BILL_SETTLE_HOURS)),
            after=after, through=through, now=now, prepare=connection.vendor == "postgresql")
        accounts = list(balances)
        parts = [accounts[:RATED_FIRST]] + [accounts[start:start + RATED_TOGETHER]
                                            for start in range(RATED_FIRST, len(accounts), RATED_TOGETHER)]
        upcoming = rater.submit(rate_some, parts[0])
        for following in [*parts[1:], None]:
            rated = upcoming.result()
            if following is not None:
                upcoming = rater.submit(rate_some, following)
            created = rating_store.write_rated(rated=rated, through=through, now=now, notified_at=timezone.now())
            _mail_new(notices=rated.warnings, created=created)
    return records


def _locked_packages(*, account_ids, since: datetime) -> dict[str, list[rules.PackageBalance]]:
    """The accounts' packages with something left, valid after `since`, locked (in id order, as
    every rater locks them), each account's in the deduction order of `rules.deduction_order`."""
    packages = defaultdict(list)
    for pk, account_id, family, valid_from, valid_until, purchased_at, total, used in (
            Package.objects.select_for_update().filter(
                account_id__in=aiplatform_sql.uuids_in(account_ids), valid_until__gt=since,
                node_seconds_used__lt=F("node_seconds_total")).order_by("pk")
            .values_list("pk", aiplatform_sql.uuid_text("account_id"), "family", "valid_from", "valid_until",
                         "purchased_at", "node_seconds_total", "node_seconds_used")):
        packages[str(account_id)].append(rules.PackageBalance(pk, family, valid_from, valid_until, purchased_at,
                                                              total, used))
    return {account_id: rules.deduction_order(balances) for account_id, balances in packages.items()}


def _rate_some(accounts: list[str], *, balances, usages, packages, pod_sets, prices, first_open, after: int,
               through: int, now: datetime, prepare: bool) -> rating_store.Rated:
    """Rate some of the accounts (pure Python: it runs beside the writing of the others). With
    `prepare` (PostgreSQL), the rows also come as that writing binds them (rating_store.prepare)."""
    runs, deductions, warnings, moves, entries = [], [], [], [], []
    created_at = timezone.now()
    for account_id in accounts:
        mine = packages.get(account_id, ())
        used_before = [p.used for p in mine]
        debit = None
        if account_id in usages:
            charges = rating.rate(usages=usages[account_id], packages=mine, prices=prices, first_open=first_open)
            if charges:
                run = _run(account_id=account_id, charges=charges, pod_sets=pod_sets, after=after, through=through,
                           created_at=created_at)
                runs.append(run)
                debit = run.pay_per_use
        for p, before in zip(mine, used_before, strict=True):
            if p.used != before:
                deductions.append(rating_store.Deduction(id=p.id, used=p.used))
                if warning := _package_warning(account_id=account_id, package=p, before=before):
                    warnings.append(warning)
        balance, arrears_since = balances[account_id]
        if debit:
            balance -= debit
            arrears_since = (arrears_since or now) if balance < 0 else None
            entries.append(rating_store.EntryRow(
                account_id=account_id, kind=LedgerKind.PAY_PER_USE, amount=-debit, balance_after=balance,
                key=f"usage:{account_id}:{after + 1}-{through}",
                description=f"Pay-per-use of usage records {after + 1}–{through}", created_at=created_at))
        moves.append(rating_store.AccountMove(account_id=account_id, balance=balance, arrears_since=arrears_since))
    rated = rating_store.Rated(runs=runs, entries=entries, deductions=deductions, moves=moves, warnings=warnings)
    return rating_store.prepare(rated) if prepare else rated


def _package_warning(*, account_id: str, package: rules.PackageBalance, before: int) -> Notice | None:
    """The warning of the highest used share a deduction took a package past, if any: of several
    crossed at once, only the highest is worth telling."""
    threshold = rules.crossed_threshold(total=package.total, before=before, after=package.used)
    if not threshold:
        return None
    return Notice(account_id=account_id, kind="package_usage",
                  subject=f"Package of {package.family} is {threshold}% used",
                  message=f"{threshold}% of the package's {package.total // 3600} node-hours are used; "
                          f"{rules.node_hours(package.remaining)} are left until {_minute(package.valid_until)} UTC. "
                          "Usage beyond it is charged per use.",
                  key=f"package:{package.id}:used:{threshold}")


@functools.lru_cache(maxsize=1024)
def _minute(moment: datetime) -> str:
    """A moment as warnings write it (many packages end at the same one)."""
    return f"{moment:%Y-%m-%d %H:%M}"


def _run(*, account_id: str, charges: rating.Charges, pod_sets: dict[int, rating.UsageSummary], after: int,
         through: int, created_at: datetime) -> rating_store.RunRow:
    """An account's charged pod sets as one run's lines per workload (RatedUsage.lines), with its
    pay-per-use amount exact to 10 decimal places."""
    workloads = {}  # {workload id: [workspace id, workload id, name, lines]}
    by_price, periods = defaultdict(int), set()
    for pod_set_id, mine in charges.items():
        owner = pod_sets[pod_set_id]
        lines = [[_month_text(key.period), key.mode, owner.flavor_id, key.package_id, str(key.unit_price), seconds]
                 for key, seconds in mine.items()]
        for key, seconds in mine.items():
            periods.add(key.period)
            if key.mode == rating.PAY_PER_USE:
                by_price[key.unit_price] += seconds
        row = workloads.get(owner.workload_id)
        if row is None:
            workloads[owner.workload_id] = [owner.workspace_id, owner.workload_id, owner.workload_name, lines]
        else:  # another role of the same workload
            row[3] = _merged(row[3], lines)
    debit = sum((rules.usage_amount(hourly=price, node_seconds=seconds) for price, seconds in by_price.items()),
                Decimal(0))
    return rating_store.RunRow(
        account_id=account_id, after=after, through=through, first_period=min(periods), last_period=max(periods),
        lines=list(workloads.values()), pay_per_use=rules.exact(debit), created_at=created_at)


def _merged(lines: list, more: list) -> list:
    """A workload's lines and another role's, those of the same month, mode, flavor, package and
    price summed."""
    summed = {tuple(line[:5]): line[5] for line in lines}
    for line in more:
        summed[tuple(line[:5])] = summed.get(tuple(line[:5]), 0) + line[5]
    return [[*key, seconds] for key, seconds in summed.items()]


@functools.lru_cache(maxsize=1024)
def _month_text(month: date) -> str:
    """A month as a run's lines write it (the same few for every line)."""
    return month.isoformat()

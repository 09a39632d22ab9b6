"""Billing operations, one module per subdomain: prices, balance (the ledger), notifications,
subscriptions, packages, metering, usage_rating (node-hours), token_rating, arrears, cost_tags
and bills. Every function is keyword-only and runs in a transaction: a charge is the balance
change, its ledger entry (with a unique key) and its charge (a purchase) or rated usage (a rating
run's lines) together, or nothing. Per account, metering and rating are ordered by the lock on
its BillingAccount row. The names below are billing's service API, called as services.<name> by
views, tasks and other apps; the modules import each other's helpers directly."""

from ..rating_store import Notice
from .arrears import arrears_admission_check, enforce_arrears
from .balance import locked_billing_account, top_up
from .bills import bill_lines_for, generate_bill, generate_bills
from .cost_tags import delete_cost_tag, set_cost_tag
from .metering import meter_usage
from .notifications import mark_notification_read, notify, notify_many
from .packages import buy_package, check_packages, save_package_offer
from .prices import estimate, price_in_force, publish_price, withdraw_price
from .subscriptions import (
    add_subscription_nodes,
    buy_subscription,
    process_subscriptions,
    renew_subscription,
    set_auto_renew,
    unsubscribe,
)
from .token_rating import TokenUsage, rate_token_usage, record_token_usage
from .usage_rating import rate_range, rate_usage

__all__ = [
    "Notice",
    "publish_price",
    "withdraw_price",
    "price_in_force",
    "estimate",
    "locked_billing_account",
    "top_up",
    "notify",
    "notify_many",
    "mark_notification_read",
    "set_auto_renew",
    "buy_subscription",
    "renew_subscription",
    "add_subscription_nodes",
    "unsubscribe",
    "process_subscriptions",
    "save_package_offer",
    "buy_package",
    "check_packages",
    "meter_usage",
    "rate_usage",
    "rate_range",
    "TokenUsage",
    "record_token_usage",
    "rate_token_usage",
    "arrears_admission_check",
    "enforce_arrears",
    "set_cost_tag",
    "delete_cost_tag",
    "bill_lines_for",
    "generate_bill",
    "generate_bills",
]

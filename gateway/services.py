"""Gateway operations on the database: writing a batch of metering (exactly once) and a
service's limits and routing."""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction

from billing import services as billing
from inference.models import Service

from . import metering
from .models import MeterBatch, ServiceGateway, TrafficMinute

_COLUMNS = ("service_id", "api_key_id", "api_key_prefix", "minute", "requests", "errors", "prompt_tokens",
            "completion_tokens", "latency_ms_total", "ttft_ms_total", "streams", "latency_ms_max")
_SUMMED = _COLUMNS[4:-1]


def record_meter_batch(*, batch_id: str, sums: dict) -> bool:
    """Write one batch of metering (metering.Row → sums) with its id, in one transaction: the
    traffic per service, key and minute, and the services' token usage for billing. A batch
    already written is left alone (False): a flush retried after any failure counts nothing twice."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                MeterBatch.objects.create(id=batch_id, requests=sum(int(v[metering.REQUESTS]) for v in sums.values()))
        except IntegrityError:
            return False
        known = {str(s["id"]): s for s in Service.objects.filter(pk__in={row[0] for row in sums}).values(
            "id", "name", "workspace_id", "workspace__account_id", "flavor_id")}
        rows = [(row, values) for row, values in sums.items() if row[0] in known]  # deleted services' go
        if not rows:
            return True
        _add_traffic(rows)
        usage = {}
        for (service_id, _, _, minute), values in rows:
            at = datetime.fromtimestamp(minute, UTC)
            first, last, tokens_in, tokens_out = usage.get(service_id, (at, at, 0, 0))
            usage[service_id] = (min(first, at), max(last, at), tokens_in + int(values[metering.PROMPT]),
                                 tokens_out + int(values[metering.COMPLETION]))
        billing.record_token_usage(batch_id=batch_id, usages=[
            billing.TokenUsage(account_id=str(known[sid]["workspace__account_id"]),
                               workspace_id=str(known[sid]["workspace_id"]), service_id=sid,
                               service_name=known[sid]["name"], flavor_id=known[sid]["flavor_id"], started_at=first,
                               ended_at=last + timedelta(minutes=1), input_tokens=tokens_in, output_tokens=tokens_out)
            for sid, (first, last, tokens_in, tokens_out) in usage.items()])
    return True


def _add_traffic(rows) -> None:
    """Adds the sums to their minutes' rows (made when missing), in one statement."""
    table = TrafficMinute._meta.db_table
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    minute_field = TrafficMinute._meta.get_field("minute")
    key_field = TrafficMinute._meta.get_field("api_key_id")
    service_field = TrafficMinute._meta.get_field("service")
    for start in range(0, len(rows), 500):
        _add_traffic_rows(rows[start:start + 500], table, greatest, (service_field, key_field, minute_field))


def _add_traffic_rows(rows, table: str, greatest: str, fields) -> None:
    service_field, key_field, minute_field = fields
    values, params = [], []
    for (service_id, key_id, prefix, minute), sums in rows:
        values.append("(" + ", ".join(["%s"] * len(_COLUMNS)) + ")")
        params += [
            service_field.get_db_prep_value(service_id, connection), key_field.get_db_prep_value(key_id, connection),
            prefix, minute_field.get_db_prep_value(datetime.fromtimestamp(minute, UTC), connection),
            int(sums[metering.REQUESTS]), int(sums[metering.ERRORS]), int(sums[metering.PROMPT]),
            int(sums[metering.COMPLETION]), float(sums[metering.LATENCY]), float(sums[metering.TTFT]),
            int(sums[metering.STREAMS]), float(sums[metering.LATENCY_MAX]),
        ]
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _SUMMED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES {', '.join(values)} "
            f"ON CONFLICT (service_id, api_key_id, minute) DO UPDATE SET {updates}, "
            f"latency_ms_max = {greatest}({table}.latency_ms_max, excluded.latency_ms_max)", params)


@transaction.atomic
def set_service_gateway(*, service: Service, **fields) -> ServiceGateway:
    """A service's limits and routing; fields left out keep their values."""
    config = ServiceGateway.objects.select_for_update().filter(service=service).first() or ServiceGateway(
        service=service)
    for name, value in fields.items():
        setattr(config, name, value)
    config.full_clean()
    config.save()
    return config

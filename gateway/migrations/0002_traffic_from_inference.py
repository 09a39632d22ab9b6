import uuid

from django.db import migrations

NIL = uuid.UUID(int=0)


def copy_traffic(apps, schema_editor):
    """The per-service minutes the API counted before the gateway, kept as traffic of no key."""
    old = apps.get_model("inference", "ServiceTraffic")
    new = apps.get_model("gateway", "TrafficMinute")
    rows = [new(service_id=t.service_id, api_key_id=NIL, minute=t.minute, requests=t.requests, errors=t.errors,
                latency_ms_total=t.latency_ms_total, latency_ms_max=t.latency_ms_max)
            for t in old.objects.all().iterator()]
    new.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0001_initial"),
        ("inference", "0002_service_traffic"),
    ]

    operations = [migrations.RunPython(copy_traffic, migrations.RunPython.noop)]

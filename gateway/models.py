"""What the gateway keeps in the database: traffic per service, API key and minute (metering's
sums, never a row per request), the batches of it already written (so a retried flush adds
nothing), and each service's limits and routing."""

import uuid

from django.db import models

from inference.models import Service


class TrafficMinute(models.Model):
    """Requests through the gateway to one service with one API key in one minute."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="traffic_minutes")
    # The key's id and prefix, not a reference: traffic outlives a key (or its user) that is deleted.
    # Traffic counted before keys were (inference's per-service minutes) has the nil id.
    api_key_id = models.UUIDField()
    api_key_prefix = models.CharField(max_length=16, blank=True, default="")
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    latency_ms_total = models.FloatField(default=0)
    latency_ms_max = models.FloatField(default=0)
    ttft_ms_total = models.FloatField(default=0, help_text="Streams' times to first token, summed.")
    streams = models.PositiveIntegerField(default=0, help_text="Streamed answers (those with a time to first token).")

    class Meta:
        ordering = ["-minute"]
        constraints = [models.UniqueConstraint(fields=["service", "api_key_id", "minute"],
                                               name="traffic_minute_unique")]
        indexes = [models.Index(fields=["service", "minute"], name="traffic_service_minute")]

    def __str__(self):
        return f"{self.service_id} {self.api_key_prefix or '-'} {self.minute:%Y-%m-%d %H:%M}"


class MeterBatch(models.Model):
    """A batch of metering written to the database: its id is written in the same transaction
    as its sums, so a flush retried after a failure finds it and adds nothing."""

    id = models.UUIDField(primary_key=True)
    requests = models.PositiveIntegerField(default=0)
    written_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-written_at"]

    def __str__(self):
        return str(self.id)


class Routing(models.TextChoices):
    LEAST_OUTSTANDING = "least_outstanding", "Least outstanding requests"
    PREFIX = "prefix", "Prefix-aware (requests sharing a long prompt prefix go to the same instance)"


def _limit(help_text):
    return models.PositiveIntegerField(null=True, blank=True, help_text=help_text)


class ServiceGateway(models.Model):
    """A service's limits (empty: the platform's defaults; 0: none) and routing at the gateway."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="gateway")
    requests_per_minute = _limit("Requests a minute to the service, from all callers together.")
    tokens_per_minute = _limit("Prompt and completion tokens a minute, all callers together.")
    key_requests_per_minute = _limit("Requests a minute each API key may send to the service.")
    key_tokens_per_minute = _limit("Tokens a minute each API key may use of the service.")
    max_streams_per_instance = _limit("Requests in flight per instance of the service.")
    routing = models.CharField(max_length=20, choices=Routing.choices, default=Routing.LEAST_OUTSTANDING)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "service gateway settings"

    def __str__(self):
        return f"gateway of {self.service_id}"

"""Prometheus metrics of one gateway process, on its /metrics (a registry of its own)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

REQUESTS = Counter("aip_gateway_requests", "Requests to services, by service and status code",
                   ["service", "code"], registry=REGISTRY)
TOKENS = Counter("aip_gateway_tokens", "Tokens served, by service and kind (prompt, completion)",
                 ["service", "kind"], registry=REGISTRY)
TTFT = Histogram("aip_gateway_time_to_first_token_seconds", "Time to first token of streamed answers",
                 ["service"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
LATENCY = Histogram("aip_gateway_request_duration_seconds", "Time from request to the end of the answer",
                    ["service"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
UPSTREAM_ERRORS = Counter("aip_gateway_upstream_errors", "Instances that could not be reached, answered 5xx, "
                          "timed out or broke off, by service and reason", ["service", "reason"], registry=REGISTRY)
IN_FLIGHT = Gauge("aip_gateway_in_flight_requests", "Requests to services in flight in this process",
                  registry=REGISTRY)
STREAMS = Gauge("aip_gateway_in_flight_streams", "Streamed answers in flight in this process", registry=REGISTRY)
FOLLOWERS = Gauge("aip_gateway_log_followers", "Log follows open in this process", registry=REGISTRY)
LIMITED = Counter("aip_gateway_limited", "Requests refused by a limit, by service", ["service"], registry=REGISTRY)

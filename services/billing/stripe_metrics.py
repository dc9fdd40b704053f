"""Billing's Prometheus metrics (Stripe reporting)."""

from prometheus_client import Counter, Gauge

METER_EVENTS = Counter(
    "timbre_billing_meter_events_total", "Meter events answered by Stripe, by verdict (sent, retry, dead)", ["verdict"]
)
METERED_CHARACTERS = Counter("timbre_billing_metered_characters_total", "Characters Stripe accepted as usage")
DEAD_LETTERS = Counter(
    "timbre_billing_dead_letters_total", "Stripe calls refused for good and dead-lettered, by kind", ["kind"]
)
PENDING = Gauge("timbre_billing_meter_events_pending", "Meter events not yet accepted by Stripe")
WEBHOOKS = Counter(
    "timbre_billing_webhooks_total", "Stripe webhooks received, by type and outcome", ["type", "outcome"]
)

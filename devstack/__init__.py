"""The local stack: PostgreSQL, Kafka (KRaft), an optional S3 server, every service and the gateway,
all on 127.0.0.1, started and stopped by ``timbre stack up|down|status`` (``make up|down|status``)."""

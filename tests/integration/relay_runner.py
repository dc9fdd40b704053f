"""Runs one outbox relay until the outbox is empty (a separate process, so tests can SIGKILL it).

argv: schema service batch_size. Failpoints come from TIMBRE_FAILPOINTS.
"""

import sys

from kit.config import KitSettings
from kit.db.engine import make_engine
from kit.events.relay import OutboxRelay


def main() -> None:
    schema, service, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = KitSettings()
    relay = OutboxRelay(
        make_engine(settings.database_url),
        schema,
        service,
        settings.kafka_bootstrap,
        settings.topic_prefix,
        batch_size=batch_size,
    )
    producer = relay.open_producer()
    relay.recover()
    while relay.relay_batch(producer):
        pass


if __name__ == "__main__":
    main()

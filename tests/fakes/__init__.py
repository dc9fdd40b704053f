"""In-memory fakes for every port a use case calls outside itself, in one place (as cosmicpython's
tests/unit/test_handlers.py uses FakeRepository / FakeUnitOfWork). One module per port:

- `storage`: ObjectStore (kit.storage.base)      - `clock`: Clock (kit.clock)

Service-specific ports (quotas, the voice engine, the watermarker, repositories / units of work) have
their own modules here too, next to these. Fakes keep state a test can inspect; none talks to a server.
"""

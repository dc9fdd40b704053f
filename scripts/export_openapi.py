"""Write the gateway's OpenAPI document (the one /openapi.json serves) to a file, without starting
anything: the console's typed API client is generated from it (`make console`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gateway.app import create_app
from gateway.config import GatewaySettings


def main(path: str) -> None:
    # The channels to the services are lazy: building the app connects to nothing.
    document = create_app(GatewaySettings()).openapi()
    Path(path).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])

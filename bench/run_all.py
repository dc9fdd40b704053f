"""Run every benchmark in turn (`make bench`); each prints its own figures and machine facts."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    "bench.gateway_latency",
    "bench.embedding_speed",
    "bench.index_search",
    "bench.cloning_quality",
    "bench.build_speed",
    "bench.vocoder_speed",
    "bench.synthesis_latency",
    "bench.usage_consumers",
    "bench.load",
]


def main() -> None:
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        subprocess.run([sys.executable, "-m", module], check=True)


if __name__ == "__main__":
    main()

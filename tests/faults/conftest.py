"""The fault suite's sizes and seed (environment, so CI and a developer's quick run differ only there)."""

from __future__ import annotations

import os
import random

import pytest

from tests.faults.workload import Sizes


@pytest.fixture(scope="session")
def fault_sizes() -> Sizes:
    env = os.environ.get
    return Sizes(
        jobs=int(env("TIMBRE_FAULTS_JOBS", "1000")),
        streams=int(env("TIMBRE_FAULTS_STREAMS", "60")),
        unary=int(env("TIMBRE_FAULTS_UNARY", "30")),
        enrollments=int(env("TIMBRE_FAULTS_ENROLLMENTS", "3")),
    )


@pytest.fixture(scope="session")
def fault_seed() -> int:
    seed = int(os.environ.get("TIMBRE_FAULTS_SEED") or random.SystemRandom().randrange(1 << 31))
    print(f"\nfaults: seed {seed} (TIMBRE_FAULTS_SEED={seed} repeats this run's fault order and timing)")
    return seed

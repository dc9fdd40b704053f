"""The gateway's own REST names for proto enums: complete, stable, and in step with the request schemas."""

from __future__ import annotations

from typing import get_args

from gateway.routes.schemas import (
    JOB_STATE_CODES,
    JOB_STATE_NAMES,
    WEBHOOK_EVENT_CODES,
    WEBHOOK_EVENT_NAMES,
    JobStateName,
    WebhookEventName,
)
from timbre.v1 import synthesis_pb2


def test_job_states_have_their_public_names():
    assert JOB_STATE_CODES == {
        "queued": synthesis_pb2.JOB_STATE_QUEUED,
        "running": synthesis_pb2.JOB_STATE_RUNNING,
        "succeeded": synthesis_pb2.JOB_STATE_SUCCEEDED,
        "failed": synthesis_pb2.JOB_STATE_FAILED,
        "cancelled": synthesis_pb2.JOB_STATE_CANCELLED,
    }
    assert {JOB_STATE_NAMES[code]: code for code in JOB_STATE_NAMES} == JOB_STATE_CODES
    assert set(get_args(JobStateName)) == set(JOB_STATE_CODES)  # what GET /v1/jobs?state= accepts


def test_every_webhook_event_has_a_public_name():
    assert WEBHOOK_EVENT_CODES == {
        "job.succeeded": synthesis_pb2.WEBHOOK_EVENT_JOB_SUCCEEDED,
        "job.failed": synthesis_pb2.WEBHOOK_EVENT_JOB_FAILED,
    }
    named = set(WEBHOOK_EVENT_NAMES)
    assert named == {n for _, n in synthesis_pb2.WebhookEvent.items()} - {synthesis_pb2.WEBHOOK_EVENT_UNSPECIFIED}
    assert set(get_args(WebhookEventName)) == set(WEBHOOK_EVENT_CODES)

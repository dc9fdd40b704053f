"""Webhook endpoints: job completion and failure, signed with the endpoint's secret."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.auth import Caller, TenantCaller
from gateway.routes.schemas import WEBHOOK_EVENT_CODES, WEBHOOK_EVENT_NAMES, WebhookEventName, when
from timbre.v1 import common_pb2, synthesis_pb2

router = APIRouter(tags=["webhooks"])


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000)
    events: list[WebhookEventName] = Field(default_factory=lambda: list(WEBHOOK_EVENT_CODES))


class WebhookOut(BaseModel):
    webhook_id: str
    url: str
    events: list[str]
    disabled: bool
    # Optional, not just nullable: the routes leave out what is None (response_model_exclude_none).
    disabled_reason: str | None = None
    consecutive_failures: int
    created_at: datetime | None = None
    secret: str | None = Field(None, description="HMAC-SHA256 key; returned only when the webhook is created")

    @classmethod
    def of(cls, hook: synthesis_pb2.Webhook, secret: str | None = None) -> WebhookOut:
        return cls(
            webhook_id=hook.webhook_id,
            url=hook.url,
            events=[WEBHOOK_EVENT_NAMES[e] for e in hook.events],
            disabled=hook.disabled,
            disabled_reason=hook.disabled_reason or None,
            consecutive_failures=hook.consecutive_failures,
            created_at=when(hook.create_time),
            secret=secret,
        )


class WebhookList(BaseModel):
    items: list[WebhookOut]
    next_page_token: str | None = None


@router.post(
    "/v1/webhooks",
    status_code=201,
    response_model=WebhookOut,
    response_model_exclude_none=True,
    summary="Register an endpoint; deliveries carry Timbre-Signature: t=<unix>,v1=<HMAC-SHA256 of '<t>.'+body>",
)
def create_webhook(body: WebhookIn, request: Request, caller: Caller = TenantCaller) -> WebhookOut:
    reply = request.app.state.backends.synthesis.CreateWebhook(
        synthesis_pb2.CreateWebhookRequest(url=body.url, events=[WEBHOOK_EVENT_CODES[e] for e in body.events]),
        metadata=caller.metadata,
    )
    return WebhookOut.of(reply.webhook, reply.secret)


@router.get(
    "/v1/webhooks",
    response_model=WebhookList,
    response_model_exclude_none=True,
    summary="The tenant's endpoints and their health",
)
def list_webhooks(
    request: Request, page_size: int = Query(20, ge=1, le=100), page_token: str = "", caller: Caller = TenantCaller
) -> WebhookList:
    reply = request.app.state.backends.synthesis.ListWebhooks(
        synthesis_pb2.ListWebhooksRequest(page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)),
        metadata=caller.metadata,
    )
    return WebhookList(
        items=[WebhookOut.of(w) for w in reply.webhooks], next_page_token=reply.page.next_page_token or None
    )


@router.delete("/v1/webhooks/{webhook_id}", status_code=204, response_class=Response, summary="Remove an endpoint")
def delete_webhook(webhook_id: str, request: Request, caller: Caller = TenantCaller) -> Response:
    request.app.state.backends.synthesis.DeleteWebhook(
        synthesis_pb2.DeleteWebhookRequest(webhook_id=webhook_id), metadata=caller.metadata
    )
    return Response(status_code=204)

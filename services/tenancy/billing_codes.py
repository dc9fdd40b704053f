"""The contract's BillingState codes (common.proto) by tenancy's state names, for the gRPC edge and the
billing-event handler: `BILLING_STATE_PAST_DUE` ↔ "past_due"."""

from __future__ import annotations

from typing import cast

from services.tenancy.domain.billing import STATES
from timbre.v1 import common_pb2

# The cast: the stubs type EnumTypeWrapper.Value() as a plain int, though it is the enum's value.
BILLING_STATE_CODES: dict[str, common_pb2.BillingState] = {
    state: cast(common_pb2.BillingState, common_pb2.BillingState.Value(f"BILLING_STATE_{state.upper()}"))
    for state in STATES
}
BILLING_STATE_NAMES: dict[int, str] = {code: state for state, code in BILLING_STATE_CODES.items()}

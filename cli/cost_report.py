"""`timbre admin cost-report`: BillingService.GetCostReport as a table or as JSON.

Only the formatting lives here; admin.py imports it inside the command, so `--help` stays instant."""

from __future__ import annotations

from typing import Any

from kit.contract_codes import TIER_NAMES
from timbre.v1 import billing_pb2


def cost_report_dict(reply: billing_pb2.GetCostReportResponse) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def _usd(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}" if abs(value) >= 1 else f"{sign}${abs(value):.6f}"


def _per(amount: float, count: float, unit: float = 1.0) -> float:
    return amount / count * unit if count > 0 else 0.0


def _row(cells: list[str], widths: list[int]) -> str:
    padded = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths, strict=True))]
    return "  ".join(padded)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  " + _row(header, widths), *("  " + _row(r, widths) for r in rows)]


def cost_report_table(reply: billing_pb2.GetCostReportResponse) -> str:
    out = [f"Cost report {reply.period}", "", "Fixed monthly costs"]
    out += _table(["item", "USD/month"], [[line.item, _usd(line.monthly_usd)] for line in reply.lines])
    out += ["", "Measured compute"]
    out += _table(
        ["worker class", "seconds", "USD/h", "USD"],
        [[c.worker_class, f"{c.compute_seconds:,.1f}", _usd(c.hourly_usd), _usd(c.usd)] for c in reply.compute]
        or [["(none)", "0.0", "-", _usd(0.0)]],
    )
    o = reply.overall
    out += [
        "",
        f"Total {_usd(reply.total_usd)} (fixed {_usd(reply.fixed_usd)} + compute {_usd(reply.compute_usd)})"
        f" over {reply.requests:,} requests",
        f"  per request {_usd(o.cost_per_request_usd)}   per 1,000 characters {_usd(o.cost_per_1k_characters_usd)}"
        f"   per audio minute {_usd(o.cost_per_audio_minute_usd)}",
        f"  compute only: per request {_usd(_per(o.compute_usd, o.requests))}"
        f"   per 1,000 characters {_usd(_per(o.compute_usd, o.characters, 1000))}"
        f"   per audio minute {_usd(_per(o.compute_usd, o.audio_seconds, 60))}",
        f"  revenue {_usd(o.revenue_usd)}   margin {_usd(o.margin_usd)}",
        "",
        "Tenants",
    ]
    header = ["tenant", "tier", "requests", "characters", "audio min", "compute s", "cost", "per request"]
    header += ["per 1k chars", "per audio min", "revenue", "margin"]
    rows = [
        [
            t.tenant_id or "overall",
            TIER_NAMES.get(t.tier, "-") if t.tenant_id else "",
            f"{t.requests:,}",
            f"{t.characters:,}",
            f"{t.audio_seconds / 60:,.2f}",
            f"{t.compute_seconds:,.1f}",
            _usd(t.cost_usd),
            _usd(t.cost_per_request_usd),
            _usd(t.cost_per_1k_characters_usd),
            _usd(t.cost_per_audio_minute_usd),
            _usd(t.revenue_usd),
            _usd(t.margin_usd),
        ]
        for t in [*reply.tenants, reply.overall]
    ]
    out += _table(header, rows)
    if reply.notes:
        out += ["", "Notes", *(f"  - {note}" for note in reply.notes)]
    return "\n".join(out)

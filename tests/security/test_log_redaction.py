"""kit.logging keeps every secret shape out of its lines (console and the run's log file), and the
leak scanner of tests/security/run_logs.py finds each shape and each known value, naming file:line
without repeating the secret."""

from __future__ import annotations

import json
import logging
import secrets

import pytest
import structlog

from kit import logging as kit_logging
from kit.logging import configure_logging, get_logger
from tests.security import run_logs

SHAPES = {
    "api_key": "tmb_0a1b2c3d4e_" + secrets.token_urlsafe(32),
    "jwt": "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ0ZW5hbnQifQ." + secrets.token_urlsafe(48),
    "webhook": "whsec_" + secrets.token_urlsafe(32),
    "stripe": "sk_test_" + secrets.token_hex(12),
    "stripe_live": "sk_live_" + secrets.token_hex(12),
    "restricted": "rk_test_" + secrets.token_hex(12),
}


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch, tmp_path):
    monkeypatch.setenv("TIMBRE_LOG_DIR", str(tmp_path))
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def _file_lines(tmp_path) -> list[dict]:
    for handle in kit_logging._log_files.values():
        handle.flush()
    return [json.loads(line) for path in tmp_path.glob("*.jsonl") for line in path.read_text().splitlines()]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_secret_shape_is_redacted_in_messages_fields_and_library_logs(name, capsys, tmp_path):
    secret = SHAPES[name]
    configure_logging("unit", "INFO")
    get_logger("t").info(f"sent {secret} to the peer", detail=f"with {secret}", url=f"https://x/?k={secret}")
    get_logger("t").warning("harmless", password=secret, authorization=f"Bearer {secret}")
    logging.getLogger("library").warning("library saw %s", secret)
    out = capsys.readouterr().out
    assert secret not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3 and "***" in lines[0]["event"] and lines[1]["password"] == "***"
    assert secret not in json.dumps(_file_lines(tmp_path))


def test_the_file_keeps_info_lines_the_console_level_hides(capsys, tmp_path):
    configure_logging("quiet", "WARNING")
    get_logger("t").info("routine", step=1)
    get_logger("t").warning("odd", step=2)
    logging.getLogger("library").info("library routine")
    assert [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()] == ["odd"]
    events = [line["event"] for line in _file_lines(tmp_path)]
    assert {"routine", "odd", "library routine"} <= set(events)
    assert all(p.name.startswith("quiet-") for p in tmp_path.glob("*.jsonl"))


def test_the_scanner_names_every_leak_by_file_and_line_without_repeating_it(tmp_path):
    watermark_key = secrets.token_hex(32)
    log = tmp_path / "svc-1.jsonl"
    lines = ['{"event": "fine"}'] + [f'{{"event": "oops {value}"}}' for value in SHAPES.values()]
    log.write_text("\n".join([*lines, f'{{"key": "{watermark_key}"}}', '{"event": "tmb_0a1b2c3d4e"}']) + "\n")

    leaks = run_logs.scan([log], {"TIMBRE_WATERMARK_KEY": watermark_key, "TIMBRE_SHORT_SECRET": "abc"})

    assert [leak.line for leak in leaks] == list(range(2, 2 + len(SHAPES) + 1))  # not line 1, not the prefix
    assert leaks[-1].kind == "TIMBRE_WATERMARK_KEY"
    report = "\n".join(str(leak) for leak in leaks)
    assert f"{log}:2: API key" in report
    assert all(value not in report for value in [*SHAPES.values(), watermark_key])


def test_the_run_records_its_secret_values_readable_by_its_owner_only(tmp_path):
    run_logs.record_secrets(
        tmp_path,
        {"TIMBRE_OPERATOR_SECRET": "o" * 32, "TIMBRE_WATERMARK_KEY": "ab" * 32, "TIMBRE_LOG_LEVEL": "WARNING"},
    )
    path = tmp_path / run_logs.SECRETS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert run_logs.run_secrets(tmp_path) == {"TIMBRE_OPERATOR_SECRET": "o" * 32, "TIMBRE_WATERMARK_KEY": "ab" * 32}


def test_the_scanner_finds_an_owner_link_token(tmp_path):
    token = "tvo_" + secrets.token_urlsafe(32)
    log = tmp_path / "gateway-1.jsonl"
    log.write_text(f'{{"event": "http", "route": "/v1/owner/consent"}}\n{{"event": "oops {token}"}}\n')
    (leak,) = run_logs.scan([log], {})
    assert (leak.line, leak.kind) == (2, "owner link token") and token not in str(leak)

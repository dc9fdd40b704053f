import json
import logging

import pytest
import structlog

from kit.logging import bind_context, configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging():
    """configure_logging binds the stdout of its moment — here capsys's capture, closed after the test.
    Later tests must not log into it: put structlog and the root logger back to their defaults."""
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def test_json_lines_carry_ids_and_never_secrets(capsys):
    configure_logging("unit", "INFO")
    key = "tmb_0123456789_" + "A" * 43
    with bind_context(request_id="req-1", trace_id="tr-1"):
        get_logger("t").info("login", api_key=key, authorization=f"Bearer {key}", note=f"used {key}", user="ann")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["request_id"], line["trace_id"], line["service"], line["event"]) == ("req-1", "tr-1", "unit", "login")
    assert line["api_key"] == "***" and line["authorization"] == "***"
    assert key not in line["note"] and line["user"] == "ann"


def test_a_voice_owners_link_token_is_redacted_wherever_it_appears(capsys):
    configure_logging("unit", "INFO")
    owner = "tvo_" + "b" * 43
    get_logger("t").info("owner_page", path=f"/console/owner/{owner}", note=f"link {owner} sent")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert owner not in json.dumps(line)
    assert line["path"] == "/console/owner/***"


def test_standard_library_logs_are_json_too(capsys):
    configure_logging("unit", "INFO")
    logging.getLogger("kafka").warning("broker down")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "broker down" and line["level"] == "warning"

"""The local stack's Stripe settings: the webhook secret in secrets.env, billing's environment, the installer."""

from __future__ import annotations

import os
import shutil
import subprocess

from devstack import infra
from devstack.processes import Paths
from devstack.stack import STRIPE_MOCK_PORT, ensure_secrets, stripe_env
from kit.config import KitSettings


def _names(text: str) -> list[str]:
    return [line.split("=", 1)[0] for line in text.splitlines()]


def test_new_secrets_file_has_a_webhook_secret(tmp_path):
    path = ensure_secrets(Paths(tmp_path / "run"))
    assert _names(path.read_text()) == [
        "TIMBRE_OPERATOR_SECRET",
        "TIMBRE_SERVICE_SECRET",
        "TIMBRE_WATERMARK_KEY",
        "TIMBRE_DATA_KEK",
        "TIMBRE_DATA_KEK_ID",
        "TIMBRE_STRIPE_WEBHOOK_SECRET",
    ]
    assert path.stat().st_mode & 0o777 == 0o600
    secret = dict(line.split("=", 1) for line in path.read_text().splitlines())["TIMBRE_STRIPE_WEBHOOK_SECRET"]
    assert secret.startswith("whsec_") and len(secret) > 30


def test_older_secrets_file_gets_the_webhook_secret_once(tmp_path):
    (tmp_path / "secrets.env").write_text("TIMBRE_OPERATOR_SECRET=kept")  # no trailing newline
    first = ensure_secrets(Paths(tmp_path)).read_text()
    again = ensure_secrets(Paths(tmp_path)).read_text()
    assert first == again
    assert _names(again) == [
        "TIMBRE_OPERATOR_SECRET",
        "TIMBRE_DATA_KEK",
        "TIMBRE_DATA_KEK_ID",
        "TIMBRE_STRIPE_WEBHOOK_SECRET",
    ]
    assert again.startswith("TIMBRE_OPERATOR_SECRET=kept\n")


def test_billing_points_at_stripe_mock_only_when_local():
    env = stripe_env(KitSettings(stripe_local=True))
    assert env["TIMBRE_STRIPE_API_BASE"] == f"http://127.0.0.1:{STRIPE_MOCK_PORT}"
    # stripe-mock accepts sk_test_<x> where <x> holds no underscore.
    prefix, mode, rest = env["TIMBRE_STRIPE_API_KEY"].split("_")
    assert (prefix, mode) == ("sk", "test") and rest
    assert stripe_env(KitSettings(stripe_local=False)) == {}


def test_installer_is_quick_when_the_pinned_version_is_stamped(tmp_path):
    folder = tmp_path / "timbre" / "go-bin"
    folder.mkdir(parents=True)
    binary = folder / "stripe-mock"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    script = infra.REPO / "scripts/install_stripe_mock.sh"
    version = next(line for line in script.read_text().splitlines() if line.startswith("version="))
    (folder / "stripe-mock.version").write_text(version.split("=", 1)[1] + "\n")
    # No `go` on PATH: a stamped binary needs none.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    assert subprocess.run([str(script)], env=env, capture_output=True).returncode == 0
    if shutil.which("go", path=env["PATH"]):
        return  # a system Go would rebuild it; the message below is for machines without one
    (folder / "stripe-mock.version").write_text("v0.0.1\n")
    missing_go = subprocess.run([str(script)], env=env, capture_output=True, text=True)
    assert missing_go.returncode == 1 and "'go'" in missing_go.stderr

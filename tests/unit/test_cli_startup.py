"""`timbre` starts fast: help and the operator and watermark commands never import the voice engine's
stack (torch, speechbrain, Coqui TTS, ONNX Runtime). Each case runs in a fresh interpreter, since
this test process has imported all of them long before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from cli.main import COMMANDS, cli
from kit.audio.codec import encode
from tests.unit.test_watermark_codec import speechlike

ROOT = Path(__file__).resolve().parents[2]
KEY = "cd" * 32
ENGINE_STACK = ("torch", "torchaudio", "speechbrain", "TTS", "onnxruntime")

# Runs the CLI in-process like the `timbre` script does, then prints what it left imported.
PROBE = """
import json, sys
from cli.main import cli
code = cli(sys.argv[1:], standalone_mode=False)
print(json.dumps({"exit": code or 0, "loaded": sorted(m for m in %r if m in sys.modules)}))
"""


def run_cli(*args: str, watch: tuple[str, ...] = ENGINE_STACK) -> tuple[str, dict]:
    env = os.environ | {"TIMBRE_WATERMARK_KEY": KEY, "TIMBRE_ENV_FILE": os.devnull}
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (watch,), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    *output, probe = done.stdout.strip().splitlines()
    return "\n".join(output), json.loads(probe)


def test_help_imports_no_command_module():
    output, probe = run_cli("--help", watch=(*ENGINE_STACK, "scipy", "numpy", "grpc", "cli.engine", "cli.admin"))
    assert probe == {"exit": 0, "loaded": []}
    assert all(name in output for name in COMMANDS)


def test_admin_help_needs_neither_the_engine_nor_grpc():
    for args in (["admin", "--help"], ["admin", "tenant", "create", "--help"], ["admin", "consent", "grant", "--help"]):
        output, probe = run_cli(*args, watch=(*ENGINE_STACK, "scipy", "grpc"))
        assert probe == {"exit": 0, "loaded": []}, args
        assert "Usage:" in output
    output, _ = run_cli("admin", "tenant", "create", "--help")
    assert "[enterprise|free|pro]" in output


def test_engine_help_does_not_load_the_engine():
    for args in (["engine", "--help"], ["engine", "speak", "--help"]):
        output, probe = run_cli(*args)
        assert probe == {"exit": 0, "loaded": []}, args
        assert "Usage:" in output


def test_watermark_detect_runs_without_torch(tmp_path):
    source, marked = tmp_path / "a.wav", tmp_path / "marked.wav"
    source.write_bytes(encode(speechlike(6.0, seed=4), 16000, "wav"))
    embedded = CliRunner().invoke(
        cli,
        ["watermark", "embed", "--in", str(source), "--out", str(marked), "--generation-id", "31337"],
        env={"TIMBRE_WATERMARK_KEY": KEY},
    )
    assert embedded.exit_code == 0, embedded.output

    output, probe = run_cli("watermark", "detect", "--in", str(marked))
    assert probe == {"exit": 0, "loaded": []}
    found = json.loads(output)
    assert found["watermarked"] is True and found["generation_id"] == 31337


def test_listed_help_is_each_commands_own():
    """The root listing's help comes from COMMANDS without importing the commands; it must not drift."""
    ctx = click.Context(cli)
    for name, (_, short_help) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=500) == short_help, name

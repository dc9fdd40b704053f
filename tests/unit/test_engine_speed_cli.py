"""bench.engine_speed: its arguments are checked up front (a GPU run that fails after minutes of model
loading wastes the device's time), and its measurement times the first chunk and the RTF of a stream
(a clock-driven fake engine, then the embedded engine's own voice when the model store is there)."""

import json
import time

import numpy as np
import pytest
import torch

from bench import engine_speed
from kit.models import ModelStore
from kit.models.store import ModelMissing


def test_arguments_default_to_every_engine_on_the_best_device():
    args = engine_speed.parse_args([])
    assert args.engines == ["embedded", "xtts", "f5"] and args.runs == 5 and args.json is None
    assert args.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert engine_speed.parse_args(["--device", "cpu", "--engines", "f5, xtts"]).engines == ["f5", "xtts"]


@pytest.mark.parametrize(
    "argv",
    [["--engines", "embedded,tortoise"], ["--engines", ","], ["--runs", "0"], ["--device", "tpu"]],
)
def test_bad_arguments_stop_before_any_model_loads(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        engine_speed.parse_args(argv)
    assert stopped.value.code == 2 and "error" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_up_front(capsys):
    with pytest.raises(SystemExit):
        engine_speed.parse_args(["--device", "cuda"])
    assert "no CUDA" in capsys.readouterr().err


class ClockEngine:
    """Two chunks of 0.5 s at 1 kHz, the first after 20 ms of work, the second after 30 ms more."""

    def output_rate(self, options):
        return 1000

    def synthesize(self, text, voice, options):
        assert options.realtime and text == engine_speed.TEXTS[options.language]
        time.sleep(0.02)
        yield np.zeros(500, np.float32)
        time.sleep(0.03)
        yield np.zeros(500, np.float32)


def test_first_chunk_and_rtf_are_measured_per_run_after_a_warm_up():
    row = engine_speed.measure(ClockEngine(), None, "clock", "cpu", "th", 3, "none")
    assert len(row.first_chunk_ms) == 3 and row.chunks == 6 and row.audio_s == pytest.approx(3.0)
    assert 20 <= row.p(50) <= row.p(95) < 45
    assert 0.05 <= row.rtf < 0.08  # ~50 ms of work per second of audio
    printed = engine_speed.table([row], {"th": row})
    assert "| clock | cpu | none | th |" in printed and "baseline" in printed
    assert json.loads(json.dumps(row.figures()))["first_chunk_p50_ms"] == pytest.approx(row.p(50))


def test_the_embedded_engine_streams_through_the_measurement():
    try:
        for name in ("hifigan", "kokoro"):
            ModelStore().require(name)
    except ModelMissing as missing:
        pytest.skip(f"the embedded engine's models are not fetched: {missing}")
    from services.synthesis.engine.embedded import EmbeddedEngine

    engine = EmbeddedEngine(device="cpu")
    # The engine's own voice (no build: the full bench builds one, ~10 s, and so runs the vocoder too).
    row = engine_speed.measure(engine, None, "embedded", "cpu", "en", 1, type(engine.vocoder).__name__)
    assert row.audio_s > 3 and 0 < row.rtf < 5 and row.chunks >= 2 and row.first_chunk_ms[0] > 0

"""Voice engines in-process on one torch thread: time to the first chunk (p50/p95 over --runs) and RTF
(compute seconds per second of audio) of a fixed English and a fixed Thai text, per engine, on
--device (default: cuda when torch sees one), next to the embedded engine on the CPU (int8 ONNX
vocoder, what production runs without a GPU) measured in the same run as the baseline.

Engines: the embedded default (on CUDA its vocoder is float torch HiFi-GAN: `load_vocoder` keeps int8
ONNX for CPUs), and XTTS-v2 and F5-TTS with the tiny random-weight models the engine tests build
(tests/engine/*_builders.py) in a temporary model store. The random-weight models' figures are the
architectures' plumbing cost at toy size, not the real models' speed: a real checkpoint is ~100× larger.

Usage: python -m bench.engine_speed [--device cpu|cuda] [--runs 5] [--engines embedded,xtts,f5]
                                    [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.common import machine_facts

ENGINES = ("embedded", "xtts", "f5")
ENGLISH = (
    "Timbre speaks this sentence in a cloned voice to measure how soon the first sound arrives. "
    "The rest of the paragraph follows while the listener is already hearing the first words."
)
THAI = "วันนี้เราจะไปเที่ยวทะเลกันนะครับ แล้วก็จะกินอาหารทะเลอร่อยๆ ที่ร้านริมหาด พรุ่งนี้เช้าเราจะตื่นแต่เช้าเพื่อดูพระอาทิตย์ขึ้น"
TEXTS = {"en": ENGLISH, "th": THAI}
# The embedded engine's voice: real speech (German, 5.5 s) so the build fits a real conversion and the
# speech path runs the vocoder; the engine's own voice (voice=None) skips the vocoder altogether.
DEV_VOICE = Path(__file__).resolve().parent.parent / "tests" / "data" / "dev-voices" / "de_Klaus_Neubauer.flac"
F5_TRANSCRIPT = "Hallo, ich bin Klaus und lese diesen Text vor."  # F5 needs one; the tiny model only counts characters


@dataclass
class Row:
    engine: str
    device: str
    language: str
    vocoder: str
    first_chunk_ms: list[float] = field(default_factory=list)
    compute_s: float = 0.0
    audio_s: float = 0.0
    chunks: int = 0

    def p(self, q: int) -> float:
        if len(self.first_chunk_ms) == 1:
            return self.first_chunk_ms[0]
        return statistics.quantiles(sorted(self.first_chunk_ms), n=100, method="inclusive")[q - 1]

    @property
    def rtf(self) -> float:
        return self.compute_s / self.audio_s if self.audio_s else float("nan")

    def figures(self) -> dict:
        return asdict(self) | {"first_chunk_p50_ms": self.p(50), "first_chunk_p95_ms": self.p(95), "rtf": self.rtf}


def _sync(device: str) -> None:
    # Chunks come back as numpy (already copied off the GPU), but a stray kernel must not bleed into the next run.
    if device == "cuda":
        torch.cuda.synchronize()


def measure(engine, voice, name: str, device: str, language: str, runs: int, vocoder: str) -> Row:
    """One warm-up (CUDA kernels, the engine's per-language caches), then `runs` timed syntheses.
    Wall time, not CPU time: on a GPU the work is not this process's CPU time."""
    from services.synthesis.engine.interface import SpeechOptions

    # realtime: what a streamed request asks for (speech.py), so the first chunk is the first few words.
    options = SpeechOptions(language=language, realtime=True)
    rate = engine.output_rate(options)
    for _ in engine.synthesize(TEXTS[language], voice, options):
        pass
    row = Row(name, device, language, vocoder)
    for _ in range(runs):
        _sync(device)
        started = time.perf_counter()
        first = None
        samples = 0
        for chunk in engine.synthesize(TEXTS[language], voice, options):
            if first is None:
                first = time.perf_counter() - started
            samples += len(chunk)
            row.chunks += 1
        _sync(device)
        row.compute_s += time.perf_counter() - started
        row.audio_s += samples / rate
        row.first_chunk_ms.append(1000 * (first if first is not None else float("nan")))
    return row


def _reference() -> np.ndarray:
    from kit.audio.codec import decode

    return decode(DEV_VOICE.read_bytes(), 16000).samples


def embedded_rows(device: str, runs: int, artifact: bytes | None) -> tuple[list[Row], bytes, float]:
    from services.synthesis.engine.embedded import EmbeddedEngine

    engine = EmbeddedEngine(device=device)
    vocoder = type(engine.vocoder).__name__
    build_s = 0.0
    if artifact is None:  # built once per run; the artifact does not depend on the device
        started = time.perf_counter()
        artifact = engine.build_voice([_reference()])
        build_s = time.perf_counter() - started
    voice = engine.load_voice(artifact)
    rows = [measure(engine, voice, "embedded", device, lang, runs, vocoder) for lang in ("en", "th")]
    return rows, artifact, build_s


def xtts_rows(device: str, runs: int, root: Path) -> list[Row]:
    from kit.models import ModelStore
    from services.synthesis.engine.coqui import CoquiEngine
    from tests.engine.coqui_builders import build_xtts

    if not (root / "xtts_v2").is_dir():
        build_xtts(root / "xtts_v2")
    # Streaming at the service's chunk size (TIMBRE_XTTS_STREAM_CHUNK_SIZE, else 20 tokens); greedy so
    # every run speaks the same tokens. XTTS-v2 has no Thai.
    engine = CoquiEngine("xtts_v2", ModelStore(root), on=device, greedy=True)
    voice = engine.load_voice(engine.build_voice([_reference()]))
    return [measure(engine, voice, "xtts (random tiny)", device, "en", runs, "hifigan decoder (XTTS)")]


def f5_rows(device: str, runs: int, root: Path) -> list[Row]:
    from kit.models import ModelStore
    from services.synthesis.engine.f5 import F5Engine
    from tests.engine.f5_builders import build_f5

    if not (root / "f5" / "thai").is_dir():
        build_f5(root / "f5" / "thai")
    # What TIMBRE_ENGINE=f5:thai makes (factory.make_engine), with the device pinned: the factory takes
    # cuda whenever torch sees one, and --device cpu must hold on a GPU machine too.
    engine = F5Engine("thai", ModelStore(root), on=device)
    voice = engine.load_voice(engine.build_voice([_reference()], F5_TRANSCRIPT))
    return [measure(engine, voice, "f5 (random tiny)", device, lang, runs, "vocos") for lang in ("en", "th")]


def versions(device: str) -> str:
    facts = f"torch {torch.__version__}"
    if device == "cuda":
        facts += (
            f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, GPU {torch.cuda.get_device_name(0)}"
        )
    return facts


def table(rows: list[Row], baseline: dict[str, Row]) -> str:
    lines = [
        "| engine | device | vocoder | lang | first chunk p50 | p95 | RTF | audio s | × baseline (first chunk · RTF) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        base = baseline.get(row.language)
        ratio = (
            "baseline" if row is base else (f"{row.p(50) / base.p(50):.2f} · {row.rtf / base.rtf:.2f}" if base else "—")
        )
        lines.append(
            f"| {row.engine} | {row.device} | {row.vocoder} | {row.language} | {row.p(50):.0f} ms | "
            f"{row.p(95):.0f} ms | {row.rtf:.3f} | {row.audio_s / max(1, len(row.first_chunk_ms)):.2f} | {ratio} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    parser.add_argument("--runs", type=int, default=5, help="timed syntheses per engine and language")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of {','.join(ENGINES)}")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(args.engines) - set(ENGINES)
    if unknown or not args.engines:
        parser.error(f"--engines: unknown {sorted(unknown)}; choose from {','.join(ENGINES)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)  # what a synthesis worker gets per process
    print(f"machine: {machine_facts()}; one torch thread", flush=True)
    print(f"device: {args.device}; {versions(args.device)}; Python {platform.python_version()}", flush=True)
    from kit.models.store import ModelMissing

    rows: list[Row] = []
    baseline: dict[str, Row] = {}
    build_s = None
    # The same-run baseline: the embedded engine on the CPU (int8 ONNX vocoder when built). It needs the
    # model store (`timbre models fetch`, ~700 MB, outside the repository); the random-weight engines do
    # not, so a machine without the store still measures them, without ratios.
    try:
        baseline_rows, artifact, build_s = embedded_rows("cpu", args.runs, None)
    except ModelMissing as missing:
        print(f"embedded engine skipped, and with it the baseline: {missing}", flush=True)
    else:
        baseline = {row.language: row for row in baseline_rows}
        print(f"embedded voice built from {DEV_VOICE.name} in {build_s:.1f} s (CPU)", flush=True)
        rows += baseline_rows
        if "embedded" in args.engines and args.device != "cpu":
            rows += embedded_rows(args.device, args.runs, artifact)[0]
    with tempfile.TemporaryDirectory(prefix="engine-speed-store-") as folder:
        root = Path(folder)
        if "xtts" in args.engines:
            rows += xtts_rows(args.device, args.runs, root)
        if "f5" in args.engines:
            rows += f5_rows(args.device, args.runs, root)
    print(table(rows, baseline), flush=True)
    figures = {
        "machine": machine_facts(),
        "device": args.device,
        "versions": versions(args.device),
        "runs": args.runs,
        "embedded_build_s": build_s,
        "rows": [row.figures() for row in rows],
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
        print(f"figures: {args.json}")
    return figures


if __name__ == "__main__":
    main()

"""10,000 hostile files through the decode path, in a child process whose peak memory is measured.

Every file decodes to a valid Clip or is refused with an AudioDecodeError and a reason (fuzz_worker);
the child must exit cleanly (a signal is a crash: FFmpeg is C), and its peak RSS stay within a bound.
Run with -s to see the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kit.audio.codec import AudioDecodeError, decode
from tests.fuzz.audio.corpus import hostile, seeds

pytestmark = pytest.mark.fuzz

FILES = 10_000
ROOT = Path(__file__).resolve().parents[3]
# Bounds on the fuzz worker's memory. Its peak holds the interpreter, numpy, PyAV, Hypothesis (whose
# engine and the mutated files' churn add ~100-150 MiB over 10,000 files even with decoding stubbed out)
# and the decoding; one decode may raise the peak by at most DECODE_RISE_MIB (a fuzzed file is at most
# 256 KiB; a file declaring hundreds of streams cost ~40 MiB before max_streams).
MAX_PEAK_MIB = 512
DECODE_RISE_MIB = 32
# A decode that never ends is a failure too (a worker stuck for good); the run takes ~1-2 minutes.
HANG_SECONDS = 480


def test_ten_thousand_hostile_files_decode_or_are_refused_with_a_reason(tmp_path):
    last_input, out, err = tmp_path / "last-input.bin", tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.audio.fuzz_worker", str(FILES), str(last_input)],
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
        )
        # wait4 reaps the child and tells how it ended (a signal is a crash); its peak memory comes from
        # the child itself (VmHWM): rusage's ru_maxrss survives fork and exec on Linux, so it would
        # report this pytest process's own size (2.6 GiB late in a full run).
        killed = threading.Event()
        hung = threading.Timer(HANG_SECONDS, lambda: (killed.set(), child.kill()))
        hung.start()
        _, status, _ = os.wait4(child.pid, 0)
        hung.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = err.read_text(errors="replace")[-8000:]
    if killed.is_set():
        pytest.fail(f"the fuzz run hung past {HANG_SECONDS} s (input being decoded: {last_input})")
    if os.WIFSIGNALED(status):
        pytest.fail(f"the decoder crashed (signal {os.WTERMSIG(status)}) on {last_input}\n{errors}")
    assert child.returncode == 0, f"a file was neither decoded nor refused with a reason:\n{errors}"
    figures = json.loads(out.read_text().strip().splitlines()[-1])
    peak_mib, baseline_mib = figures["peak_rss_kib"] / 1024, figures["baseline_rss_kib"] / 1024
    rise_mib = figures["largest_decode_rise_kib"] / 1024
    print(
        f"\naudio fuzz: {figures['files']} files tried, 0 crashes, outcomes {figures['outcomes']}, "
        f"peak worker RSS {peak_mib:.0f} MiB (idle {baseline_mib:.0f} MiB; largest rise in one decode "
        f"{rise_mib:.1f} MiB), "
        f"largest decoded clip {figures['largest_output_bytes'] / 2**20:.1f} MiB, {figures['seconds']} s"
    )
    assert figures["files"] >= FILES
    assert figures["outcomes"].get("decoded", 0) > 0, "no mutation decoded: the seeds or decode are broken"
    assert peak_mib < MAX_PEAK_MIB, f"peak {peak_mib:.0f} MiB, idle {baseline_mib:.0f} MiB"
    assert rise_mib < DECODE_RISE_MIB, f"one decode raised the peak by {rise_mib:.0f} MiB"


def test_hand_made_cases_decode_or_are_refused_with_their_reason():
    wrong = []
    for case in hostile():
        try:
            clip = decode(case.data)
        except AudioDecodeError as refused:
            if refused.reason != case.reason:
                wrong.append(f"{case.name}: refused {refused.reason} ({refused}), expected {case.reason}")
            continue
        if case.reason is not None:
            wrong.append(f"{case.name}: decoded ({clip.seconds:.1f} s), expected {case.reason}")
        elif not (clip.seconds > 0 and clip.sample_rate == 16000):
            wrong.append(f"{case.name}: decoded to {clip}")
    assert not wrong, "\n".join(wrong)


def test_every_seed_is_valid_audio():
    for name, data in seeds().items():
        assert decode(data).seconds == pytest.approx(0.4, abs=0.15), name  # m4a keeps its AAC padding

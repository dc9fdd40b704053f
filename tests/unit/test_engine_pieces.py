"""Engine pieces without models: option checks, DTW, mel warps, conversion fitting, streaming resampler."""

import numpy as np
import pytest

from kit.audio.codec import StreamResampler, resample
from kit.errors import InvalidArgument
from services.synthesis.engine import alignment, conversion
from services.synthesis.engine.features import median_f0, shift, warp
from services.synthesis.engine.interface import SpeechOptions


@pytest.mark.parametrize(
    "options, text, reason",
    [
        (SpeechOptions(), "x" * 5001, "TEXT_TOO_LONG"),
        (SpeechOptions(), "   ", "INVALID_ARGUMENT"),
        (SpeechOptions(language="de"), "hallo", "INVALID_ARGUMENT"),
        (SpeechOptions(speed=2.5), "hi", "INVALID_ARGUMENT"),
        (SpeechOptions(pitch=13), "hi", "INVALID_ARGUMENT"),
        (SpeechOptions(sample_rate=4000), "hi", "INVALID_ARGUMENT"),
    ],
)
def test_bad_options_are_refused_with_a_reason(options, text, reason):
    with pytest.raises(InvalidArgument) as caught:
        options.checked(5000, text)
    assert caught.value.reason == reason


def test_limit_error_names_the_limit():
    with pytest.raises(InvalidArgument) as caught:
        SpeechOptions().checked(5000, "x" * 6000)
    assert caught.value.metadata == {"limit": "5000", "characters": "6000"}


def test_dtw_recovers_a_known_time_warp():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 12))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    stretch = np.repeat(np.arange(60), 2)  # b says the same as a, twice as slowly
    b = a[stretch]
    ai, bi = alignment.dtw_path(a, b)
    assert ai[0] == 0 and bi[0] == 0 and ai[-1] == 59 and bi[-1] == 119
    assert np.all(np.diff(ai) >= 0) and np.all(np.diff(bi) >= 0)
    assert np.array_equal(ai, stretch[bi])  # every b frame paired with the a frame it copies


def test_mel_warp_moves_a_peak_up_by_the_ratio_and_back():
    frames = np.full((1, 80), -5.0, np.float32)
    frames[0, 30] = 0.0
    up = warp(frames, 1.3)
    assert int(np.argmax(up)) > 30
    assert int(np.argmax(warp(up, 1 / 1.3))) == 30
    assert shift(frames, 1.0, 1.0) is frames


def test_median_f0_finds_the_pitch_of_a_harmonic_tone():
    rate = 22050
    t = np.arange(rate) / rate
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6)).astype(np.float32)
    assert median_f0(tone, rate) == pytest.approx(140, rel=0.03)
    assert median_f0(np.zeros(rate, np.float32), rate) == 0.0


def test_conversion_learns_a_known_spectral_tilt_and_round_trips_its_state():
    rng = np.random.default_rng(1)
    base = rng.normal(-4, 1, size=(2000, 80)).astype(np.float32)
    tilt = np.linspace(-1, 1, 80, dtype=np.float32)
    target = base + tilt
    fitted = conversion.fit(base, target, 1.0, target, conversion.FitOptions(strength=1.0))
    assert fitted.formant_ratio == pytest.approx(1.0, abs=0.05)
    out = fitted(base)
    assert np.abs(out - target).mean() < 0.2 < np.abs(base - target).mean()
    again = conversion.Conversion.from_state(fitted.to_state())
    assert np.allclose(again(base), out)


def test_stream_resampler_matches_whole_resampling_without_seams():
    rate = 22050
    t = np.arange(rate) / rate
    chirp = (0.5 * np.sin(2 * np.pi * (200 + 1500 * t) * t)).astype(np.float32)
    stream = StreamResampler(rate, 16000)
    pieces = [stream(chirp[i : i + 1000]) for i in range(0, len(chirp), 1000)] + [stream(None)]
    joined = np.concatenate(pieces)
    assert abs(len(joined) - 16000) <= 32
    whole = resample(chirp, rate, 16000)
    errors = [np.abs(joined[1000 + lag : 15000 + lag] - whole[1000:15000]).mean() for lag in range(0, 64)]
    assert min(errors) < 0.01  # the same signal (up to the resampler's delay), no seams


def test_the_transcript_language_picks_the_parallel_base_voice():
    from services.synthesis.engine.embedded import transcript_language

    assert transcript_language("The quick brown fox.") == "en"
    assert transcript_language("สวัสดีครับ วันนี้อากาศดีมาก") == "th"


def test_vocoder_precision_is_chosen_by_the_environment(tmp_path, monkeypatch):
    from services.synthesis.engine import vocoder

    monkeypatch.setenv("TIMBRE_VOCODER", "fp4")
    with pytest.raises(ValueError, match="TIMBRE_VOCODER"):
        vocoder.load_vocoder(tmp_path)


def test_long_alignment_stays_in_bounded_memory_and_agrees_with_the_exact_one():
    from scipy.ndimage import uniform_filter1d

    rng = np.random.default_rng(0)
    a = uniform_filter1d(rng.normal(size=(3000, 12)), 9, axis=0)  # speech-like: features drift smoothly
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    stretch = np.sort(rng.choice(3000, 4500))  # b says what a says, unevenly slower
    b = a[stretch]
    ai, bi = alignment.long_dtw_path(a, b, max_cells=1_000_000)  # the exact table would be 13.5M cells
    assert (ai[0], bi[0], ai[-1], bi[-1]) == (0, 0, 2999, 4499)
    assert np.all(np.diff(ai) >= 0) and np.all(np.diff(bi) >= 0) and np.all(np.diff(ai) + np.diff(bi) > 0)
    exact_a, exact_b = alignment.dtw_path(a, b)
    # frames paired with the a frame they copy: as often as with the exact alignment
    assert np.mean(stretch[bi] == ai) >= np.mean(stretch[exact_b] == exact_a) - 0.01


def _sounds(rng, frames=2400):
    """Four "sounds" built from two spectral patterns (signs a, b), and a correction a·b·R that
    no linear map of the frames can produce."""
    p, q, r = (rng.normal(size=80) for _ in range(3))
    a, b = rng.choice([-1.0, 1.0], size=(2, frames // 20)).repeat(20, axis=1)  # each sound lasts 20 frames
    mel = (-4 + a[:, None] * p + b[:, None] * q + 0.1 * rng.normal(size=(frames, 80))).astype(np.float32)
    return mel, (a * b)[:, None] * r


def test_sound_classes_learn_a_per_sound_correction_and_round_trip():
    from services.synthesis.engine import sound_classes

    rng = np.random.default_rng(2)
    mel, missed = _sounds(rng)
    index = np.arange(len(mel))
    classes = sound_classes.fit(mel, index, missed, strength=1.0)
    assert classes is not None and len(classes.centres) == len(mel) // sound_classes.PAIRS_PER_CLASS
    held_out, truth = _sounds(np.random.default_rng(2))  # the same sounds, a new take (same patterns)
    assert np.abs(classes(held_out) - truth).mean() < 0.15 * np.abs(truth).mean()
    again = sound_classes.SoundClasses.from_state(classes.to_state())
    assert np.allclose(again(held_out), classes(held_out))
    assert sound_classes.fit(mel[:200], index[:200], missed[:200], 1.0) is None  # too short a reference
    assert sound_classes.fit(mel, index, missed, 0.0) is None


def test_a_conversion_carries_its_sound_classes_and_loads_without_them():
    from services.synthesis.engine import sound_classes

    rng = np.random.default_rng(3)
    mel, missed = _sounds(rng)
    fitted = conversion.fit(mel, mel + missed, 1.0, mel + missed, conversion.FitOptions(strength=1.0))
    linear_error = np.abs(fitted(mel) - (mel + missed)).mean()
    fitted.classes = sound_classes.fit(mel, np.arange(len(mel)), mel + missed - fitted(mel), 1.0)
    assert np.abs(fitted(mel) - (mel + missed)).mean() < 0.5 * linear_error
    state = fitted.to_state()
    assert np.allclose(conversion.Conversion.from_state(state)(mel), fitted(mel))
    older = {k: v for k, v in state.items() if k != "classes"}  # a voice built before sound classes
    assert conversion.Conversion.from_state(older).classes is None


class _ScriptedWhisper:
    """What faster-whisper's transcribe returns, scripted: the logic under test is which segments
    (and which audio) `hear` keeps."""

    def __init__(self, language, segments):
        from types import SimpleNamespace

        self.info = SimpleNamespace(language=language, language_probability=0.95)
        self.segments = [
            SimpleNamespace(start=a, end=b, text=t, avg_logprob=lp, no_speech_prob=ns) for a, b, t, lp, ns in segments
        ]

    def transcribe(self, audio, **_):
        return iter(self.segments), self.info


def _hear(language, segments, seconds=12.0):
    from services.synthesis.engine.content import ContentFeatures
    from services.synthesis.engine.mel import RATE

    features = ContentFeatures.__new__(ContentFeatures)
    features.model = _ScriptedWhisper(language, segments)
    audio = np.arange(int(seconds * RATE), dtype=np.float32) / RATE  # each sample says when it is
    return features.hear(audio)


def test_hearing_drops_unsure_segments_with_their_audio():
    heard = _hear(
        "en",
        [
            (0.0, 4.0, " One two.", -0.2, 0.01),
            (4.0, 8.0, " mumble", -1.6, 0.1),
            (8.0, 12.0, " Three four.", -0.3, 0.02),
        ],
    )
    assert heard.text == "One two. Three four." and heard.dropped_segments == 1
    assert 8.0 <= len(heard.samples) / 22050 <= 8.5  # two 4 s spans (+ padding)
    assert heard.samples.max() > 11.5 and not ((heard.samples > 4.2) & (heard.samples < 7.8)).any()


def test_hearing_keeps_the_whole_reference_when_every_segment_is_sure():
    heard = _hear("en", [(0.0, 6.0, " One two.", -0.2, 0.01), (6.0, 11.7, " Three.", -0.3, 0.02)])
    assert len(heard.samples) == 12 * 22050 and heard.dropped_segments == 0


def test_hearing_refuses_other_languages_and_too_little_sure_speech():
    assert _hear("th", [(0.0, 12.0, " สวัสดี", -0.2, 0.01)]) is None
    assert _hear("en", [(0.0, 2.0, " Hi.", -0.2, 0.01), (2.0, 12.0, " noise", -2.0, 0.9)]) is None


def _tones(f0s, seconds=0.5):
    """Harmonic tones (20 harmonics, 1/n amplitudes) at each F0 in turn, 22.05 kHz."""
    from services.synthesis.engine.mel import RATE

    t = np.arange(int(seconds * RATE)) / RATE
    return np.concatenate([sum(np.sin(2 * np.pi * f * n * t) / n for n in range(1, 21)) * 0.1 for f in f0s])


def test_fine_structure_gives_voiced_frames_the_reference_harmonics_at_their_pitch():
    from services.synthesis.engine import fine_structure
    from services.synthesis.engine.features import f0_per_frame, split_envelope
    from services.synthesis.engine.mel import log_mel

    reference = _tones([180.0, 200.0, 220.0, 240.0]).astype(np.float32)
    pool = fine_structure.fit(reference, log_mel(reference))
    assert pool is not None and abs(np.exp(np.median(pool.log_f0)) - 210) < 15
    wanted = log_mel(_tones([200.0]).astype(np.float32))[5:-5]  # what a 200 Hz frame's harmonics look like
    wrong = log_mel(_tones([130.0]).astype(np.float32))[5:-5]  # the same frames, harmonics of another pitch
    out = pool(wrong, np.full(len(wrong), 200.0))
    _, fine_wanted = split_envelope(wanted)
    _, fine_out = split_envelope(out)
    _, fine_wrong = split_envelope(wrong)
    assert np.abs(fine_out - fine_wanted).mean() < 0.3 * np.abs(fine_wrong - fine_wanted).mean()
    assert np.allclose(split_envelope(out)[0], split_envelope(wrong)[0], atol=1e-3)  # the envelope stays
    # an unvoiced frame, and a pitch a fifth above anything in the reference, keep their own fine structure
    kept = pool(wrong, np.where(np.arange(len(wrong)) % 2 == 0, 0.0, 360.0))
    assert np.array_equal(kept, wrong)
    assert f0_per_frame(reference, len(log_mel(reference))).max() < 260


def test_fine_structure_state_round_trips_and_needs_voiced_speech():
    from services.synthesis.engine import fine_structure
    from services.synthesis.engine.mel import log_mel

    reference = _tones([150.0, 160.0]).astype(np.float32)
    pool = fine_structure.fit(reference, log_mel(reference))
    again = fine_structure.FineStructure.from_state(pool.to_state())
    frames = log_mel(_tones([155.0]).astype(np.float32))
    assert np.array_equal(pool(frames, np.full(len(frames), 155.0)), again(frames, np.full(len(frames), 155.0)))
    noise = np.random.default_rng(0).normal(0, 0.1, 22050).astype(np.float32)
    assert fine_structure.fit(noise, log_mel(noise)) is None

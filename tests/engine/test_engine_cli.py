"""`timbre engine clone|speak` as a person runs them: files in, files and one JSON line out."""

import io
import json

import torch
from click.testing import CliRunner

from cli import samples
from cli.main import cli
from kit.audio.codec import decode


def test_clone_then_speak_to_an_mp3(tmp_path):
    reference = tmp_path / "ref.flac"
    text = samples.PASSAGES[2]
    reference.write_bytes(samples.wav_bytes(samples.espeak(text, "en-us+m7"), fmt="flac"))
    runner = CliRunner()
    built = runner.invoke(
        cli,
        [
            "engine",
            "clone",
            "--reference",
            str(reference),
            "--transcript",
            text,
            "--strength",
            "0.8",
            "--class-strength",
            "0.3",
            "--out",
            str(tmp_path / "voice.pth"),
        ],
    )
    assert built.exit_code == 0, built.output
    report = json.loads(built.output.strip().splitlines()[-1])
    assert report["engine"] == "embedded" and report["reference_seconds"] > 5
    state = torch.load(io.BytesIO((tmp_path / "voice.pth").read_bytes()), weights_only=True)
    assert state["conversions"]["piper-joe"]["strength"] == 0.8
    assert (
        len(state["conversions"]["piper-joe"]["classes"]["centres"]) >= 8
    )  # the transcript buys per-sound corrections
    assert state["conversions"]["piper-joe"]["classes"]["strength"] == 0.3
    english, thai = report["built"]["base_voices"]["piper-joe"], report["built"]["base_voices"]["espeak"]
    assert english["transcript"] == "given" and english["parallel"] and english["class_strength"] == 0.3
    assert english["sound_classes"] == len(state["conversions"]["piper-joe"]["classes"]["centres"])
    assert not thai["parallel"] and thai["sound_classes"] == 0  # an English transcript: Thai pairs by nearest frames
    assert report["built"]["fine_structure"]["frames"] == len(state["fine_structure"]["log_f0"]) >= 50

    inspected = runner.invoke(cli, ["engine", "inspect", "--voice", str(tmp_path / "voice.pth")])
    assert inspected.exit_code == 0, inspected.output
    described = json.loads(inspected.output)
    assert described["base_voices"] == report["built"]["base_voices"]
    assert described["reference_seconds"] == report["reference_seconds"]

    spoken = runner.invoke(
        cli,
        [
            "engine",
            "speak",
            "--voice",
            str(tmp_path / "voice.pth"),
            "--text",
            "It costs $5 today. See you tomorrow!",
            "--language",
            "en",
            "--sample-rate",
            "24000",
            "--out",
            str(tmp_path / "out.mp3"),
        ],
    )
    assert spoken.exit_code == 0, spoken.output
    summary = json.loads(spoken.output.strip().splitlines()[-1])
    clip = decode((tmp_path / "out.mp3").read_bytes(), target_rate=None)
    assert clip.codec.startswith("mp3") and clip.native_rate == 24000
    assert abs(clip.seconds - summary["audio_seconds"]) < 0.2 and clip.seconds > 1.5


def test_clone_without_transcript_or_hearing_fits_the_linear_map_only(tmp_path):
    reference = tmp_path / "ref.wav"
    reference.write_bytes(samples.wav_bytes(samples.espeak(samples.PASSAGES[2], "en-us+m7")))
    built = CliRunner().invoke(
        cli, ["engine", "clone", "--reference", str(reference), "--no-hear", "--out", str(tmp_path / "voice.pth")]
    )
    assert built.exit_code == 0, built.output
    english = torch.load(io.BytesIO((tmp_path / "voice.pth").read_bytes()), weights_only=True)["conversions"][
        "piper-joe"
    ]
    assert english["report"]["transcript"] == "none" and "classes" not in english


def test_fit_options_are_refused_for_engines_without_them(tmp_path):
    reference = tmp_path / "ref.wav"
    reference.write_bytes(samples.wav_bytes(samples.espeak(samples.PASSAGES[2], "en-us+m7")))
    result = CliRunner().invoke(
        cli,
        [
            "engine",
            "clone",
            "--reference",
            str(reference),
            "--class-strength",
            "0.2",
            "--engine",
            "coqui:vits",
            "--out",
            str(tmp_path / "v.pth"),
        ],
    )
    assert result.exit_code != 0 and "--class-strength" in result.output


def test_bad_files_and_options_give_clear_errors(tmp_path):
    runner = CliRunner()
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    result = runner.invoke(cli, ["engine", "clone", "--reference", str(junk), "--out", str(tmp_path / "v.pth")])
    assert result.exit_code != 0 and "junk.wav" in result.output
    result = runner.invoke(
        cli, ["engine", "speak", "--text", "hi", "--language", "en", "--out", str(tmp_path / "out.xyz")]
    )
    assert result.exit_code != 0 and "extension" in result.output
    result = runner.invoke(
        cli,
        [
            "engine",
            "speak",
            "--voice",
            str(junk),
            "--text",
            "hi",
            "--language",
            "en",
            "--out",
            str(tmp_path / "out.wav"),
        ],
    )
    assert result.exit_code != 0 and "voice artifact" in result.output
    assert not (tmp_path / "out.wav").exists()
    result = runner.invoke(cli, ["engine", "inspect", "--voice", str(junk)])
    assert result.exit_code != 0 and "junk.wav" in result.output and "not readable" in result.output

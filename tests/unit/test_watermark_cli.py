import json

from click.testing import CliRunner

from cli.main import cli
from kit.audio.codec import encode
from tests.unit.test_watermark_codec import speechlike

KEY = "ab" * 32


def test_embed_then_detect_prints_one_json_object(tmp_path):
    source, marked = tmp_path / "a.flac", tmp_path / "b.wav"
    source.write_bytes(encode(speechlike(6.0, seed=9), 16000, "flac"))
    runner = CliRunner()
    env = {"TIMBRE_WATERMARK_KEY": KEY}
    result = runner.invoke(
        cli, ["watermark", "embed", "--in", str(source), "--out", str(marked), "--generation-id", "4242"], env=env
    )
    assert result.exit_code == 0, result.output
    detected = runner.invoke(cli, ["watermark", "detect", "--in", str(marked)], env=env)
    assert detected.exit_code == 0, detected.output
    body = json.loads(detected.output)
    assert body["watermarked"] is True and body["generation_id"] == 4242 and 0 < body["confidence"] <= 1
    assert body["tempo"] == 1.0 and body["pitch_semitones"] == 0.0  # read as it is, no edit
    clean = json.loads(runner.invoke(cli, ["watermark", "detect", "--in", str(source)], env=env).output)
    assert clean == {
        "watermarked": False,
        "confidence": 0.0,
        "generation_id": None,
        "tempo": None,
        "pitch_semitones": None,
    }


def test_clear_errors_without_key_or_with_bad_input(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio" * 50)
    runner = CliRunner()
    missing = runner.invoke(cli, ["watermark", "detect", "--in", str(junk)], env={"TIMBRE_WATERMARK_KEY": KEY})
    assert missing.exit_code != 0 and "junk.wav" in missing.output
    source = tmp_path / "a.wav"
    source.write_bytes(encode(speechlike(4.0), 16000, "wav"))
    nokey = runner.invoke(
        cli,
        ["watermark", "detect", "--in", str(source)],
        env={"TIMBRE_WATERMARK_KEY": "", "TIMBRE_ENV_FILE": "/dev/null"},
    )
    assert nokey.exit_code != 0 and "TIMBRE_WATERMARK_KEY" in nokey.output

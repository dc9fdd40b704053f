"""Small Coqui models with random weights, saved in the model store's layout, so the tests prove
the load-and-synthesize path without the real (unobtainable here) weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch

XTTS_LANGUAGES = ["en", "es"]


def xtts_vocab(path: Path) -> None:
    """A BPE vocabulary like XTTS's: [STOP] [UNK] [SPACE] [START] and the language tokens first."""
    from tokenizers import Tokenizer, models, trainers

    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]"] + [f"[{lang}]" for lang in XTTS_LANGUAGES]
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=specials)
    corpus = [
        "hello world this is a tiny voice model",
        "the quick brown fox jumps over the lazy dog",
        "hola mundo esto es una prueba",
        "abcdefghijklmnopqrstuvwxyz 0123456789 .,!?'-",
    ]
    tokenizer.train_from_iterator([line.replace(" ", "[SPACE]") for line in corpus], trainer)
    tokenizer.save(str(path))


def build_xtts(folder: Path, max_audio_tokens: int = 40) -> Path:
    """XTTS-v2 architecture at 2 GPT layers × 64 channels (random weights) in folder/. It speaks at most
    max_audio_tokens - 3 GPT tokens (~46 ms of audio each) a sentence: greedy decoding of random weights
    rarely stops earlier, so a streamed sentence yields about that many tokens / stream_chunk_size chunks."""
    from TTS.tts.configs.xtts_config import XttsArgs, XttsAudioConfig, XttsConfig
    from TTS.tts.models.xtts import Xtts

    folder.mkdir(parents=True, exist_ok=True)
    xtts_vocab(folder / "vocab.json")
    args = XttsArgs(
        gpt_layers=2,
        gpt_n_model_channels=64,
        gpt_n_heads=2,
        gpt_max_audio_tokens=max_audio_tokens,
        gpt_num_audio_tokens=1026,
        gpt_start_audio_token=1024,
        gpt_stop_audio_token=1025,
        decoder_input_dim=64,
        d_vector_dim=512,
        tokenizer_file=str(folder / "vocab.json"),
    )
    config = XttsConfig(model_args=args, audio=XttsAudioConfig(), languages=XTTS_LANGUAGES)
    torch.manual_seed(0)
    model = Xtts(config)
    model.tokenizer = model.tokenizer.__class__(vocab_file=str(folder / "vocab.json"))
    model.init_models()
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


def build_vits(folder: Path) -> Path:
    """A single-speaker VITS (~0.4M parameters, character input, random weights) in folder/."""
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    folder.mkdir(parents=True, exist_ok=True)
    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_flow=1,
        num_layers_posterior_encoder=1,
        resblock_type_decoder="2",
        upsample_initial_channel_decoder=16,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3]],
        upsample_rates_decoder=[8, 8, 4],
        upsample_kernel_sizes_decoder=[16, 16, 8],
    )
    config = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="basic_cleaners", characters=None)
    config.audio.sample_rate = 22050
    torch.manual_seed(0)
    model = Vits(config)
    torch.save({"model": model.state_dict(), "config": json.loads(config.to_json())}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder

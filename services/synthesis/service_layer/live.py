"""Live speech: text arrives in pieces while the audio of what came before is already playing (a
voice agent speaking an LLM's tokens as they are produced).

A session is one generation: one id, one mark on one slot grid across everything it says, one
generation row and one UsageRecorded for the characters actually spoken. It reserves its allowance
(`max_characters`) when it opens, so a tenant over quota hears so before speaking, and commits what
it spoke when it ends (nothing spoken: the reservation is released, nothing is counted).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from kit.audio.stream_encoder import StreamEncoder
from kit.errors import InvalidArgument
from services.synthesis.domain.generations import MAX_SHORT_TEXT
from services.synthesis.domain.voices import VoiceState
from services.synthesis.engine.interface import SpeechOptions
from services.synthesis.engine.text.live import SentenceBuffer
from services.synthesis.service_layer.speech import FLUSH, Caller, Speaker, SpeechRequest, Spoken

# A session's allowance when the caller names none: a few turns of an agent's speech.
DEFAULT_LIVE_CHARACTERS = 1000


@dataclass(frozen=True)
class LiveText:
    """One piece of a session's input: more text, and/or a flush (speak what has arrived, now)."""

    text: str = ""
    flush: bool = False


@dataclass
class LiveTotals:
    """What the session has taken and said so far; final once its audio generator has ended."""

    characters: int = 0
    audio_seconds: float = 0.0


class LiveSpeaker:
    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker

    def open(
        self, caller: Caller, request: SpeechRequest, max_characters: int, inputs: Iterable[LiveText]
    ) -> tuple[int, LiveTotals, Generator[bytes, None, None]]:
        """Checks and reserves now (errors before any audio); then the generator speaks `inputs` as they
        come and yields encoded pieces whose concatenation is one file of the request's format."""
        if not 1 <= max_characters <= MAX_SHORT_TEXT:
            raise InvalidArgument(
                f"max_characters {max_characters} is outside 1–{MAX_SHORT_TEXT}", field="max_characters"
            )
        speaker = self.speaker
        state, options, reservation = speaker.admit(caller, request, characters=max_characters)
        generation_id = speaker.numbered(reservation)
        totals = LiveTotals()
        session = self._session(
            caller, request, state, options, reservation, generation_id, max_characters, inputs, totals
        )
        return generation_id, totals, session

    def _session(
        self,
        caller: Caller,
        request: SpeechRequest,
        state: VoiceState,
        options: SpeechOptions,
        reservation: str,
        generation_id: int,
        max_characters: int,
        inputs: Iterable[LiveText],
        totals: LiveTotals,
    ) -> Generator[bytes, None, None]:
        speaker = self.speaker
        rate = speaker.rate_of(options)
        encoder = StreamEncoder(request.format, rate)
        samples = 0
        with speaker._settled(
            caller, request, state, reservation, "live", generation_id, spoken=lambda: totals.characters
        ) as run:
            voice = speaker.artifacts.voice(state)
            chunks = self._speech(voice, options, max_characters, inputs, totals)
            for segment in speaker.mark_chunks(chunks, rate, generation_id, growing=True):
                samples += len(segment)
                totals.audio_seconds = samples / rate
                yield from speaker.encoded(segment, encoder, run)
            tail = encoder.finish()
            elapsed = speaker.clock.monotonic() - run.started
            if totals.characters:
                with speaker.uow.begin() as repo:
                    speaker.record(
                        repo,
                        caller,
                        state,
                        Spoken(
                            generation_id,
                            "live",
                            request.language,
                            request.format,
                            totals.characters,
                            samples / rate,
                            elapsed,
                            first_chunk_seconds=elapsed if run.first_chunk_at is None else run.first_chunk_at,
                            reservation_id=reservation,
                        ),
                    )
        if tail and samples:
            yield tail

    def _speech(
        self,
        voice: object,
        options: SpeechOptions,
        max_characters: int,
        inputs: Iterable[LiveText],
        totals: LiveTotals,
    ) -> Iterator[np.ndarray]:
        """The engine's PCM for the text as its sentences complete, and FLUSH where the caller flushed.
        The first sentence, and the first after each flush (a listener is waiting then), is spoken in
        the engine's real-time way (its first words on their own); the others as whole sentences."""
        engine = self.speaker.engine
        sentences = SentenceBuffer(options.language)
        waiting = True
        for piece in inputs:
            totals.characters += len(piece.text)
            if totals.characters > max_characters:
                raise InvalidArgument(
                    f"the session's text passed its {max_characters} characters",
                    reason="TEXT_TOO_LONG",
                    limit=max_characters,
                )
            ready = sentences.add(piece.text)
            if piece.flush:
                ready.append(sentences.flush())
            for text in ready:
                if text.strip():
                    spoken_options = replace(options, realtime=waiting)
                    yield from engine.synthesize(text, voice, spoken_options, max_chars=MAX_SHORT_TEXT)
                    waiting = False
            if piece.flush:
                yield FLUSH
                waiting = True
        rest = sentences.flush()
        if rest.strip():
            yield from engine.synthesize(rest, voice, replace(options, realtime=waiting), max_chars=MAX_SHORT_TEXT)

"""Voice builds, and what synthesis keeps of each voice to speak with it, fed by the voice lifecycle topic.

The build (slow: decode samples, fit the clone) runs outside any transaction; its outcome and the
VoiceReady / VoiceBuildFailed event commit together (the embedding service owns the voice's status
and learns it from those events). Deleting or revoking a voice shreds its artifact's data key (in
the consumer's transaction) and removes its artifacts, also when a build finishes after the deletion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from kit.audio.codec import AudioDecodeError, decode
from kit.clock import Clock, SystemClock
from kit.errors import TimbreError
from kit.events.topics import VOICE_LIFECYCLE
from kit.logging import get_logger
from kit.storage import ObjectNotFound, ObjectStore
from services.synthesis.domain.voices import VoiceState
from services.synthesis.engine.interface import REFERENCE_RATE
from services.synthesis.service_layer.artifacts import Artifacts
from services.synthesis.service_layer.ports import Repository, VoiceEngine, VoiceSamples
from timbre.v1 import events_pb2

log = get_logger("synthesis.builds")


@dataclass(frozen=True)
class VoiceRef:
    voice_id: str
    tenant_id: str


@dataclass(frozen=True)
class BuildRequest:
    voice_id: str
    tenant_id: str
    sample_keys: tuple[str, ...]
    transcript: str = ""


@dataclass(frozen=True)
class BuildOutcome:
    artifact_key: str = ""
    seconds: float = 0.0
    reason: str = ""
    detail: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.reason)


class VoiceBuilds:
    def __init__(
        self,
        store: ObjectStore,
        artifacts: Artifacts,
        engine: VoiceEngine,
        clock: Clock | None = None,
        *,
        samples: VoiceSamples,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        # The enrollment's samples are sealed with the embedding service's key: it serves them decrypted.
        self.samples = samples
        self.engine = engine
        self.clock = clock or SystemClock()

    def build(self, request: BuildRequest) -> BuildOutcome:
        started = self.clock.monotonic()
        try:
            references = [
                decode(self.samples.read(request.voice_id, key), target_rate=REFERENCE_RATE).samples
                for key in request.sample_keys
            ]
            artifact = self.engine.build_voice(references, request.transcript or None)
            key = self.artifacts.put(request.tenant_id, request.voice_id, artifact)
        except ObjectNotFound:
            return BuildOutcome(reason="VOICE_NOT_READY", detail="the voice's samples are gone (deleted or revoked)")
        except AudioDecodeError as exc:
            return BuildOutcome(reason=exc.reason, detail=str(exc))
        except TimbreError as exc:  # e.g. MODEL_MISSING when the configured engine's weights are absent
            return BuildOutcome(reason=exc.reason, detail=exc.message)
        seconds = self.clock.monotonic() - started
        log.info("voice_built", voice_id=request.voice_id, engine=self.engine.name, seconds=round(seconds, 2))
        return BuildOutcome(artifact_key=key, seconds=seconds)

    def apply_build(self, repo: Repository, request: BuildRequest, outcome: BuildOutcome) -> None:
        state = self._voice(repo, request.voice_id, request.tenant_id)
        if state.deleted or state.revoked:
            self.artifacts.remove(repo, request.tenant_id, request.voice_id)  # deleted while it was being built
            return
        if outcome.failed:
            repo.save_voice(replace(state, artifact_key="", engine="", built_at=None))
            repo.stage(
                VOICE_LIFECYCLE,
                request.voice_id,
                events_pb2.VoiceBuildFailed(
                    voice_id=request.voice_id,
                    tenant_id=request.tenant_id,
                    reason=outcome.reason,
                    detail=outcome.detail,
                ),
                tenant_id=request.tenant_id,
            )
            return
        repo.save_voice(
            replace(state, artifact_key=outcome.artifact_key, engine=self.engine.name, built_at=self.clock.now())
        )
        repo.stage(
            VOICE_LIFECYCLE,
            request.voice_id,
            events_pb2.VoiceReady(
                voice_id=request.voice_id,
                tenant_id=request.tenant_id,
                artifact_key=outcome.artifact_key,
                engine=self.engine.name,
            ),
            tenant_id=request.tenant_id,
        )

    def requested(self, repo: Repository, voice: VoiceRef) -> None:
        """Known from the start, so the owner hears "not ready" (not "not found") while it is built."""
        if repo.voice(voice.voice_id) is None:
            repo.save_voice(VoiceState(voice.voice_id, voice.tenant_id))

    def rejected(self, repo: Repository, voice: VoiceRef) -> None:
        """A rejected enrollment is never built: "not ready", like a failed build."""
        self.requested(repo, voice)

    def consent_granted(self, repo: Repository, voice: VoiceRef, consent_id: str, expires_at: datetime | None) -> None:
        state = self._voice(repo, voice.voice_id, voice.tenant_id)
        repo.save_voice(replace(state, consent_id=consent_id, consent_expires_at=expires_at))

    def consent_revoked(self, repo: Repository, voice: VoiceRef) -> None:
        state = self._voice(repo, voice.voice_id, voice.tenant_id)
        repo.save_voice(
            replace(
                state,
                revoked=True,
                consent_id=None,
                consent_expires_at=None,
                artifact_key="",
                engine="",
                built_at=None,
            )
        )
        self.artifacts.remove(repo, voice.tenant_id, voice.voice_id)

    def deleted(self, repo: Repository, voice: VoiceRef) -> None:
        state = self._voice(repo, voice.voice_id, voice.tenant_id)
        repo.save_voice(replace(state, deleted=True, consent_id=None, artifact_key="", engine="", built_at=None))
        self.artifacts.remove(repo, voice.tenant_id, voice.voice_id)

    @staticmethod
    def _voice(repo: Repository, voice_id: str, tenant_id: str) -> VoiceState:
        """The voice's row, locked; a new one when events arrive for a voice not seen yet."""
        return repo.voice(voice_id, for_update=True) or VoiceState(voice_id, tenant_id)

"""Voices: enrollment uploads (multipart), status, listing, deletion, speaker verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from gateway.auth import Caller, TenantCaller
from gateway.routes.audit import audited_metadata
from gateway.routes.schemas import VerifyOut, VoiceList, VoiceOut
from gateway.uploads import UploadStream
from timbre.v1 import common_pb2, embedding_pb2

router = APIRouter(tags=["voices"])


@router.post(
    "/v1/voices",
    status_code=202,
    response_model=VoiceOut,
    summary="Enroll a voice: one or more recordings (wav, flac, mp3, ogg, m4a), ≥ 10 s of speech in total",
)
def enroll_voice(
    request: Request,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    files: Annotated[list[UploadFile], File(description="audio files of one speaker")],
    transcript: Annotated[str, Form(max_length=20000)] = "",
    language: Annotated[str, Form(pattern="^(th|en)$")] = "th",
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
    caller: Caller = TenantCaller,
) -> VoiceOut:
    upload = UploadStream(
        [(f.filename or f"file{i}", f) for i, f in enumerate(files)], request.app.state.settings.max_upload_bytes
    )

    def stream():
        yield embedding_pb2.EnrollVoiceRequest(
            metadata=embedding_pb2.EnrollVoiceMetadata(
                name=name, transcript=transcript, language=language, idempotency_key=idempotency_key
            )
        )
        for chunk in upload.chunks():
            yield embedding_pb2.EnrollVoiceRequest(chunk=chunk)

    with upload.sending():
        reply = request.app.state.backends.embedding.EnrollVoice(stream(), metadata=audited_metadata(request, caller))
    return VoiceOut.of(reply.voice)


@router.get("/v1/voices", response_model=VoiceList, summary="The tenant's voices")
def list_voices(
    request: Request, page_size: int = Query(20, ge=1, le=100), page_token: str = "", caller: Caller = TenantCaller
) -> VoiceList:
    reply = request.app.state.backends.embedding.ListVoices(
        embedding_pb2.ListVoicesRequest(page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)),
        metadata=caller.metadata,
    )
    return VoiceList(items=[VoiceOut.of(v) for v in reply.voices], next_page_token=reply.page.next_page_token or None)


@router.get("/v1/voices/{voice_id}", response_model=VoiceOut, summary="A voice and its status")
def get_voice(voice_id: str, request: Request, caller: Caller = TenantCaller) -> VoiceOut:
    reply = request.app.state.backends.embedding.GetVoice(
        embedding_pb2.GetVoiceRequest(voice_id=voice_id), metadata=caller.metadata
    )
    return VoiceOut.of(reply.voice)


@router.delete(
    "/v1/voices/{voice_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a voice: samples, artifacts and its speaker-index entry go",
)
def delete_voice(voice_id: str, request: Request, caller: Caller = TenantCaller) -> Response:
    request.app.state.backends.embedding.DeleteVoice(
        embedding_pb2.DeleteVoiceRequest(voice_id=voice_id), metadata=audited_metadata(request, caller)
    )
    return Response(status_code=204)


@router.post("/v1/voices/{voice_id}/verify", response_model=VerifyOut, summary="Is this recording the voice's speaker?")
def verify_speaker(
    voice_id: str, request: Request, file: Annotated[UploadFile, File()], caller: Caller = TenantCaller
) -> VerifyOut:
    upload = UploadStream([(file.filename or "audio", file)], request.app.state.settings.max_upload_bytes)

    def stream():
        yield embedding_pb2.VerifySpeakerRequest(voice_id=voice_id)
        for chunk in upload.chunks():
            yield embedding_pb2.VerifySpeakerRequest(chunk=chunk)

    with upload.sending():
        reply = request.app.state.backends.embedding.VerifySpeaker(stream(), metadata=audited_metadata(request, caller))
    return VerifyOut(score=reply.score, threshold=reply.threshold, same_speaker=reply.same_speaker)

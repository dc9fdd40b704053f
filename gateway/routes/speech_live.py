"""Live speech over a WebSocket: text in pieces as an LLM produces it, audio out as it is ready.

The socket is a thin bridge to SynthesizeLive (one generation a session; docs/synthesis.md):

- opening handshake: `Authorization: Bearer <API key>`, checked like any request (401/429 before the
  upgrade);
- client → server, JSON text frames: the first may carry the options (`language`, `format`, `speed`,
  `pitch`, `sample_rate`, `max_characters`) and every one `text` and `flush` (speak what has arrived,
  mid-sentence); `{"end": true}` ends the input, and so does closing the socket or sending nothing
  for IDLE_SECONDS;
- server → client: `{"event": "start", "generation_id": …}`, binary frames of audio whose
  concatenation is one file of the format, then `{"event": "done", "generation_id", "characters",
  "audio_seconds"}` and a normal close (1000). A refusal or failure is `{"event": "error", …}` with the
  REST API's problem fields, then close code 4000 + the HTTP status (4429: over quota, 4404: no such
  voice, 4400: a bad message).
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from typing import Any

import grpc
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError

from gateway.auth import tenant_caller
from gateway.problems import from_rpc_error
from gateway.routes.speech import FormatName
from kit.grpc.convert import FORMAT_CODES
from kit.logging import get_logger
from timbre.v1 import synthesis_pb2

log = get_logger("gateway")
router = APIRouter(tags=["speech"])
IDLE_SECONDS = 20.0  # no message for this long ends the input (the hosted APIs close idle sockets too)
_END = object()


class LiveMessage(BaseModel):
    """One client frame. The first frame's options open the session; later frames' options are ignored."""

    model_config = {"extra": "forbid"}
    text: str = Field("", max_length=5000)
    flush: bool = False
    end: bool = False
    language: str = "th"
    format: FormatName = "mp3"
    speed: float = Field(1.0, ge=0.5, le=2.0)
    pitch: float = Field(0.0, ge=-12, le=12)
    sample_rate: int = Field(0, ge=0, le=48000)
    max_characters: int = Field(1000, ge=1, le=5000, description="the session's allowance, reserved at the start")

    def opening(self, voice_id: str) -> synthesis_pb2.SynthesizeLiveRequest:
        options = synthesis_pb2.SpeechOptions(
            language=self.language,
            speed=self.speed,
            pitch=self.pitch,
            format=FORMAT_CODES[self.format],
            sample_rate=self.sample_rate,
        )
        return synthesis_pb2.SynthesizeLiveRequest(
            voice_id=voice_id,
            options=options,
            max_characters=self.max_characters,
            text=self.text,
            flush=self.flush,
        )


class _BadMessage(Exception):
    pass


async def _message(websocket: WebSocket, timeout: float) -> LiveMessage | None:
    """The next client frame, or None when the client is done (end, close, or silence)."""
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), timeout)
    except (TimeoutError, WebSocketDisconnect):
        return None
    try:
        message = LiveMessage.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        raise _BadMessage(str(error).splitlines()[0]) from error
    return message


@router.websocket("/v1/voices/{voice_id}/speech/ws")
async def speak_live(websocket: WebSocket, voice_id: str) -> None:
    caller = await tenant_caller(websocket)  # before the upgrade: a refusal is a plain HTTP 401/429
    await websocket.accept()
    try:
        first = await _message(websocket, IDLE_SECONDS)
    except _BadMessage as bad:
        await _refuse(websocket, 400, "INVALID_ARGUMENT", str(bad))
        return
    if first is None:
        await websocket.close(1000)
        return
    requests: queue.Queue[Any] = queue.Queue()
    requests.put(first.opening(voice_id))
    if first.end:
        requests.put(_END)

    def inputs():
        while (item := requests.get()) is not _END:
            yield item

    stub = websocket.app.state.backends.synthesis
    call = stub.SynthesizeLive(inputs(), metadata=caller.metadata)
    replies: asyncio.Queue[Any] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def pump() -> None:  # the blocking gRPC iterator, on its own thread
        try:
            for reply in call:
                loop.call_soon_threadsafe(replies.put_nowait, reply)
            loop.call_soon_threadsafe(replies.put_nowait, None)
        except grpc.RpcError as error:
            loop.call_soon_threadsafe(replies.put_nowait, error)

    threading.Thread(target=pump, name="live-speech", daemon=True).start()
    reader = asyncio.create_task(_forward(websocket, requests, ended=first.end))
    try:
        await _relay(websocket, replies)
    finally:
        reader.cancel()
        requests.put(_END)
        call.cancel()


async def _forward(websocket: WebSocket, requests: queue.Queue, ended: bool) -> None:
    """Client frames → the call's input, until the client ends it; a bad frame ends the session."""
    try:
        while not ended:
            message = await _message(websocket, IDLE_SECONDS)
            if message is None:
                break
            if message.text or message.flush:
                requests.put(synthesis_pb2.SynthesizeLiveRequest(text=message.text, flush=message.flush))
            ended = message.end
    except _BadMessage as bad:
        await _refuse(websocket, 400, "INVALID_ARGUMENT", str(bad))
    finally:
        requests.put(_END)


async def _relay(websocket: WebSocket, replies: asyncio.Queue) -> None:
    """The call's replies → the client: a start frame, audio frames, the totals; or the error."""
    started = False
    while (reply := await replies.get()) is not None:
        if isinstance(reply, grpc.RpcError):
            if reply.code() != grpc.StatusCode.CANCELLED:
                body = json.loads(bytes(from_rpc_error(websocket, reply).body))
                await _refuse(websocket, body["status"], body.get("reason", ""), body.get("detail", ""), body)
            return
        try:
            if not started:
                await websocket.send_json({"event": "start", "generation_id": reply.generation_id})
                started = True
            if reply.audio:
                await websocket.send_bytes(reply.audio)
            if reply.last:
                await websocket.send_json(
                    {
                        "event": "done",
                        "generation_id": reply.generation_id,
                        "characters": reply.characters,
                        "audio_seconds": round(reply.audio_seconds, 3),
                    }
                )
                await websocket.close(1000)
                return
        except (WebSocketDisconnect, RuntimeError):
            log.info("live_speech_client_gone")
            return


async def _refuse(websocket: WebSocket, status: int, reason: str, detail: str, body: dict | None = None) -> None:
    try:
        await websocket.send_json(
            {"event": "error", **(body or {"status": status, "reason": reason, "detail": detail})}
        )
        await websocket.close(4000 + status)
    except (WebSocketDisconnect, RuntimeError):
        pass  # already gone

// Plays a streamed speech answer as it arrives. mp3 goes through Media Source Extensions: each chunk is
// appended to the <audio> element's buffer the moment it lands, so playback starts with the first
// chunk. Other formats (wav, flac, ogg have no MSE byte-stream format in Chromium) play once complete.
export const STREAMABLE = "audio/mpeg";

function once(target: EventTarget, event: string): Promise<void> {
  return new Promise((resolve) => target.addEventListener(event, () => resolve(), { once: true }));
}

export function canStream(mediaType: string): boolean {
  return typeof MediaSource !== "undefined" && mediaType === STREAMABLE && MediaSource.isTypeSupported(mediaType);
}

/** Feeds `body` into `audio`, starting playback at the first chunk; resolves with the whole file. */
export async function playStream(
  audio: HTMLAudioElement,
  body: ReadableStream<Uint8Array<ArrayBuffer>>,
  mediaType: string,
  onBytes: (received: number) => void,
): Promise<Blob> {
  const chunks: BlobPart[] = [];
  const reader = body.getReader();
  let received = 0;
  if (!canStream(mediaType)) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      onBytes((received += value.byteLength));
    }
    const blob = new Blob(chunks, { type: mediaType });
    audio.src = URL.createObjectURL(blob);
    await audio.play().catch(() => undefined); // autoplay refused: the controls still play it
    return blob;
  }
  const media = new MediaSource();
  audio.src = URL.createObjectURL(media);
  await once(media, "sourceopen");
  const buffer = media.addSourceBuffer(mediaType);
  let playing = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    onBytes((received += value.byteLength));
    buffer.appendBuffer(value);
    await once(buffer, "updateend");
    if (!playing) {
      playing = true;
      void audio.play().catch(() => undefined);
    }
  }
  if (media.readyState === "open") media.endOfStream();
  return new Blob(chunks, { type: mediaType });
}

export const EXTENSIONS: Record<string, string> = { mp3: "mp3", wav: "wav", flac: "flac", ogg: "ogg" };
export const MEDIA_TYPES: Record<string, string> = { mp3: "audio/mpeg", wav: "audio/wav", flac: "audio/flac", ogg: "audio/ogg" };

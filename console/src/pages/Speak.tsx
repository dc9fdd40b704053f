import { useRef, useState } from "react";
import { api, unwrap } from "../api/client";
import { ApiError, problemOf } from "../api/problem";
import { saveBlob, useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { type Format, FormatSelect, type Lang, LanguageSelect, VoiceSelect } from "../components/fields";
import { useI18n } from "../i18n";
import { useMe } from "../me";
import { EXTENSIONS, MEDIA_TYPES, playStream } from "../player";

export const MAX_SPEECH_CHARACTERS = 5000;
const CONSENT_PROPAGATION_MS = 60_000;
export function useReadyVoices() {
  return usePoll(() => unwrap(api.GET("/v1/voices", { params: { query: { page_size: 100 } } })), []);
}

export function Speak() {
  const { t, formatNumber } = useI18n();
  const { me, refresh } = useMe();
  const voices = useReadyVoices();
  const ready = (voices.value?.items ?? []).filter((v) => v.status === "ready" && v.has_active_consent);
  const [voiceId, setVoiceId] = useState("");
  const [text, setText] = useState("");
  const [language, setLanguage] = useState<Lang>("th");
  const [speed, setSpeed] = useState(1);
  const [pitch, setPitch] = useState(0);
  const [format, setFormat] = useState<Format>("mp3");
  const [received, setReceived] = useState(0);
  const [streaming, setStreaming] = useState(false);
  const [waiting, setWaiting] = useState(false);
  const [generationId, setGenerationId] = useState<string | null>(null);
  const [clip, setClip] = useState<Blob | null>(null);
  const audio = useRef<HTMLAudioElement>(null);
  const { busy, error, run } = useAction();
  const chosen = voiceId || ready[0]?.id || "";
  const tooLong = text.length > MAX_SPEECH_CHARACTERS;

  return (
    <section aria-labelledby="speak-title">
      <h1 id="speak-title">{t("speak.title")}</h1>
      <ErrorBox error={voices.error} />
      {voices.value && ready.length === 0 ? <p className="muted">{t("speak.noVoices")}</p> : null}
      <form
        className="card"
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            setClip(null);
            setGenerationId(null);
            setReceived(0);
            const voice = ready.find((v) => v.id === chosen);
            const waitUntil = Date.now() + CONSENT_PROPAGATION_MS;
            let response: Response;
            for (;;) {
              ({ response } = await api.POST("/v1/voices/{voice_id}/speech", {
                params: { path: { voice_id: chosen } },
                body: { text, language, speed, pitch, format, stream: true },
                parseAs: "stream",
              }));
              if (response.ok && response.body) break;
              const problem = await problemOf(response);
              // A consent just recorded reaches the speech service through the voice's events a moment
              // after the voice shows ready (longest on a stack that has just started): worth a retry.
              if (problem.reason !== "CONSENT_REQUIRED" || !voice?.has_active_consent || Date.now() > waitUntil) throw new ApiError(problem);
              setWaiting(true);
              await new Promise((resolve) => window.setTimeout(resolve, 1000));
            }
            setWaiting(false);
            setGenerationId(response.headers.get("Timbre-Generation-Id"));
            setStreaming(true);
            const body = response.body as ReadableStream<Uint8Array<ArrayBuffer>>;
            try {
              setClip(await playStream(audio.current!, body, MEDIA_TYPES[format], setReceived));
            } finally {
              setStreaming(false);
              void refresh();
            }
          });
        }}
      >
        <VoiceSelect id="speak-voice" voices={ready} value={chosen} onChange={setVoiceId} />
        <label htmlFor="speak-text">{t("speak.text")}</label>
        <textarea id="speak-text" rows={5} required value={text} onChange={(e) => setText(e.target.value)} aria-describedby="speak-counter" />
        <p id="speak-counter" className={tooLong ? "counter over" : "counter"} aria-live="polite">
          {t("speak.counter", { n: formatNumber(text.length), max: formatNumber(MAX_SPEECH_CHARACTERS) })}
          {tooLong ? ` — ${t("speak.tooLong", { max: formatNumber(MAX_SPEECH_CHARACTERS) })}` : ""}
        </p>
        <div className="grid">
          <div>
            <LanguageSelect id="speak-language" value={language} onChange={setLanguage} />
          </div>
          <div>
            <FormatSelect value={format} onChange={setFormat} allowed={me.limits.formats} />
          </div>
          <div>
            <label htmlFor="speak-speed">
              {t("speak.speed")}: {speed.toFixed(2)}×
            </label>
            <input id="speak-speed" type="range" min={0.5} max={2} step={0.05} value={speed} onChange={(e) => setSpeed(Number(e.target.value))} />
          </div>
          <div>
            <label htmlFor="speak-pitch">
              {t("speak.pitch")}: {pitch > 0 ? "+" : ""}
              {pitch}
            </label>
            <input id="speak-pitch" type="range" min={-12} max={12} step={1} value={pitch} onChange={(e) => setPitch(Number(e.target.value))} />
          </div>
        </div>
        <button type="submit" disabled={busy || !chosen || !text.trim() || tooLong || !me.limits.formats.includes(format)}>
          {t("speak.submit")}
        </button>
        {waiting && busy ? <p className="muted" role="status">{t("speak.waitingConsent")}</p> : null}
        <ErrorBox error={error} />
      </form>
      <div className="card" aria-live="polite">
        <audio ref={audio} controls aria-label={t("speak.player")} data-testid="player" />
        {streaming ? <p className="muted">{t("speak.streaming")} {Math.round(received / 1024)} KB</p> : null}
        {clip ? <p className="ok">{t("speak.done", { kb: Math.round(clip.size / 1024) })}</p> : null}
        {generationId ? (
          <p>
            {t("speak.generation")}: <code data-testid="generation-id">{generationId}</code>
          </p>
        ) : null}
        {clip ? (
          <button type="button" className="secondary" onClick={() => saveBlob(clip, `timbre-${generationId ?? "speech"}.${EXTENSIONS[format]}`)}>
            {t("common.download")}
          </button>
        ) : null}
      </div>
    </section>
  );
}

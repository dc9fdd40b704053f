// Records the microphone with MediaRecorder (Chromium: webm/opus, which enrollment and consent accept),
// with a live input-level meter and a timer; `minSeconds` is shown before anything is uploaded.
import { useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n";

export type Recording = { blob: Blob; seconds: number; filename: string };

function pickMimeType(): string {
  for (const type of ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"]) {
    if (typeof MediaRecorder !== "undefined" && MediaRecorder.isTypeSupported(type)) return type;
  }
  return "";
}

export function Recorder({ onRecorded, minSeconds = 0 }: { onRecorded: (recording: Recording | null) => void; minSeconds?: number }) {
  const { t } = useI18n();
  const [state, setState] = useState<"idle" | "recording" | "done" | "denied">("idle");
  const [seconds, setSeconds] = useState(0);
  const [level, setLevel] = useState(0);
  const [recordedType, setRecordedType] = useState("");
  const stopRef = useRef<() => void>(() => {});
  useEffect(() => () => stopRef.current(), []);

  if (typeof MediaRecorder === "undefined" || !navigator.mediaDevices?.getUserMedia) {
    return <p className="muted">{t("rec.unsupported")}</p>;
  }

  async function start() {
    onRecorded(null);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false } });
    } catch {
      setState("denied");
      return;
    }
    const mimeType = pickMimeType();
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    const chunks: Blob[] = [];
    const audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    audio.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const started = performance.now();
    let frame = 0;
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      // RMS in dBFS mapped to 0..1 over -60..0 dB: speech sits in the middle of the bar.
      const db = 10 * Math.log10(sum / samples.length + 1e-12);
      setLevel(Math.max(0, Math.min(1, (db + 60) / 60)));
      setSeconds((performance.now() - started) / 1000);
      frame = requestAnimationFrame(tick);
    };
    recorder.ondataavailable = (event) => {
      if (event.data.size) chunks.push(event.data);
    };
    recorder.onstop = () => {
      cancelAnimationFrame(frame);
      stream.getTracks().forEach((track) => track.stop());
      void audio.close();
      const elapsed = (performance.now() - started) / 1000;
      const type = recorder.mimeType || mimeType || "audio/webm";
      const extension = type.includes("ogg") ? "ogg" : "webm";
      setSeconds(elapsed);
      setLevel(0);
      setState("done");
      setRecordedType(type);
      onRecorded({ blob: new Blob(chunks, { type }), seconds: elapsed, filename: `recording.${extension}` });
    };
    stopRef.current = () => {
      if (recorder.state !== "inactive") recorder.stop();
    };
    recorder.start(250);
    frame = requestAnimationFrame(tick);
    setState("recording");
  }

  const whole = Math.floor(seconds);
  return (
    <div className="recorder">
      <div className="row">
        {state === "recording" ? (
          <button type="button" className="danger" onClick={() => stopRef.current()}>
            ■ {t("rec.stop")}
          </button>
        ) : (
          <button type="button" onClick={() => void start()}>
            ● {state === "done" ? t("rec.again") : t("rec.start")}
          </button>
        )}
        <span className="timer" aria-live="off" data-recorded-type={recordedType || undefined}>
          {state === "done" ? t("rec.ready", { n: whole }) : t("rec.timer", { n: whole })}
        </span>
      </div>
      <div className="level" role="meter" aria-label={t("rec.level")} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(level * 100)}>
        <div className="level-fill" style={{ width: `${Math.round(level * 100)}%` }} />
      </div>
      {minSeconds > 0 && whole < minSeconds ? <p className="muted small">{t("enroll.needMore", { n: minSeconds - whole })}</p> : null}
      {state === "denied" ? <p className="problem" role="alert">{t("rec.denied")}</p> : null}
    </div>
  );
}

import { useState } from "react";
import { Link } from "react-router-dom";
import { api, asFormData, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { ProgressBar, useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { Recorder, type Recording } from "../components/Recorder";
import { ConfirmButton, Table } from "../components/Table";
import { type Lang, LanguageSelect } from "../components/fields";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { useMe } from "../me";

export type Voice = components["schemas"]["VoiceOut"];
const MIN_SECONDS = 10;

export function Voices() {
  const { t } = useI18n();
  const { refresh: refreshMe } = useMe();
  const voices = usePoll(
    () => unwrap(api.GET("/v1/voices", { params: { query: { page_size: 100 } } })),
    [],
    1500,
    (list) => Boolean(list?.items.some((v) => v.status === "processing")),
  );
  const remove = useAction();
  return (
    <section aria-labelledby="voices-title">
      <h1 id="voices-title">{t("voices.title")}</h1>
      <ErrorBox error={voices.error ?? remove.error} />
      {voices.value && voices.value.items.length === 0 ? <p className="muted">{t("voices.empty")}</p> : null}
      {voices.value?.items.length ? (
        <Table
          rows={voices.value.items}
          rowKey={(voice) => voice.id}
          rowData={(voice) => ({ "data-voice-id": voice.id })}
          columns={[
            { label: t("voices.name"), cell: (voice) => voice.name },
            {
              label: t("voices.status"),
              cell: (voice) => (
                <>
                  <span className={`status status-${voice.status}`}>{t(`voices.status.${voice.status}` as MessageKey)}</span>
                  {voice.status === "processing" ? <ProgressBar value={voice.progress} label={t("enroll.progress", { p: Math.round(voice.progress * 100) })} /> : null}
                  {voice.status_reason ? (
                    <div className="muted small">
                      <code>{voice.status_reason}</code> {voice.status_detail}
                    </div>
                  ) : null}
                </>
              ),
            },
            { label: t("voices.speech"), cell: (voice) => t("common.seconds", { n: voice.speech_seconds.toFixed(1) }) },
            { label: t("voices.consent"), cell: (voice) => (voice.has_active_consent ? t("common.yes") : t("common.no")) },
            {
              label: t("voices.actions"),
              className: "actions",
              cell: (voice) => (
                <>
                  <Link to={`/voices/${voice.id}/consent`}>{t("voices.manageConsent")}</Link>
                  <ConfirmButton
                    label={t("voices.deleteVoice", { name: voice.name })}
                    disabled={remove.busy}
                    onConfirmed={() =>
                      void remove.run(async () => {
                        await unwrap(api.DELETE("/v1/voices/{voice_id}", { params: { path: { voice_id: voice.id } } }));
                        await voices.refresh();
                        await refreshMe();
                      })
                    }
                  >
                    {t("common.delete")}
                  </ConfirmButton>
                </>
              ),
            },
          ]}
        />
      ) : null}
      <Enroll
        onEnrolled={async () => {
          await voices.refresh();
          await refreshMe();
        }}
      />
    </section>
  );
}

function Enroll({ onEnrolled }: { onEnrolled: () => Promise<void> }) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [language, setLanguage] = useState<Lang>("th");
  const [source, setSource] = useState<"upload" | "record">("record");
  const [files, setFiles] = useState<File[]>([]);
  const [recording, setRecording] = useState<Recording | null>(null);
  const [done, setDone] = useState<Voice>();
  const { busy, error, run } = useAction();
  const ready = name.trim() && (source === "upload" ? files.length > 0 : (recording?.seconds ?? 0) >= MIN_SECONDS);

  return (
    <form
      className="card"
      aria-labelledby="enroll-title"
      onSubmit={(event) => {
        event.preventDefault();
        void run(async () => {
          const form = new FormData();
          form.append("name", name.trim());
          form.append("language", language);
          if (source === "upload") files.forEach((file) => form.append("files", file, file.name));
          else if (recording) form.append("files", recording.blob, recording.filename);
          const voice = await unwrap(api.POST("/v1/voices", { body: form as never, ...asFormData }));
          setDone(voice);
          setName("");
          setFiles([]);
          setRecording(null);
          await onEnrolled();
        });
      }}
    >
      <h2 id="enroll-title">{t("enroll.title")}</h2>
      <p className="rule">{t("enroll.rule")}</p>
      <label htmlFor="voice-name">{t("enroll.name")}</label>
      <input id="voice-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
      <LanguageSelect id="voice-language" value={language} onChange={setLanguage} />
      <fieldset>
        <legend>{t("enroll.source")}</legend>
        <label className="inline">
          <input type="radio" name="source" checked={source === "record"} onChange={() => setSource("record")} /> {t("enroll.record")}
        </label>
        <label className="inline">
          <input type="radio" name="source" checked={source === "upload"} onChange={() => setSource("upload")} /> {t("enroll.upload")}
        </label>
      </fieldset>
      {source === "upload" ? (
        <>
          <label htmlFor="voice-files">{t("enroll.files")}</label>
          <input id="voice-files" type="file" accept="audio/*,.webm,.m4a,.flac" multiple onChange={(e) => setFiles(Array.from(e.target.files ?? []))} />
        </>
      ) : (
        <Recorder onRecorded={setRecording} minSeconds={MIN_SECONDS} />
      )}
      <button type="submit" disabled={busy || !ready}>
        {busy ? t("enroll.sending") : t("enroll.submit")}
      </button>
      {done ? (
        <p role="status" className="ok">
          {t("enroll.done", { name: done.name, status: t(`voices.status.${done.status}` as MessageKey) })}
        </p>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}

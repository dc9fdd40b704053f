import { useState } from "react";
import { api, unwrap } from "../api/client";
import { ProgressBar, saveBlob, useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { Table } from "../components/Table";
import { type Format, FormatSelect, type Lang, LanguageSelect, VoiceSelect } from "../components/fields";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { useMe } from "../me";
import { EXTENSIONS } from "../player";
import { useReadyVoices } from "./Speak";

export const MAX_JOB_CHARACTERS = 100_000;
const LIVE = new Set(["queued", "running"]);

export function Jobs() {
  const { t, formatNumber, formatDate } = useI18n();
  const { me, refresh: refreshMe } = useMe();
  const voices = useReadyVoices();
  const ready = (voices.value?.items ?? []).filter((v) => v.status === "ready" && v.has_active_consent);
  const jobs = usePoll(
    () => unwrap(api.GET("/v1/jobs", { params: { query: { page_size: 50 } } })),
    [],
    1000,
    (list) => Boolean(list?.items.some((job) => LIVE.has(job.state))),
  );
  const [voiceId, setVoiceId] = useState("");
  const [text, setText] = useState("");
  const [language, setLanguage] = useState<Lang>("th");
  const [format, setFormat] = useState<Format>("mp3");
  const submit = useAction();
  const act = useAction();
  const chosen = voiceId || ready[0]?.id || "";
  const names = new Map((voices.value?.items ?? []).map((v) => [v.id, v.name]));

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">{t("jobs.title")}</h1>
      <form
        className="card"
        aria-labelledby="new-job"
        onSubmit={(event) => {
          event.preventDefault();
          void submit.run(async () => {
            await unwrap(
              api.POST("/v1/jobs", {
                body: { voice_id: chosen, text, language, format, idempotency_key: crypto.randomUUID() },
              }),
            );
            setText("");
            await jobs.refresh();
            await refreshMe();
          });
        }}
      >
        <h2 id="new-job">{t("jobs.new")}</h2>
        {voices.value && ready.length === 0 ? <p className="muted">{t("speak.noVoices")}</p> : null}
        <VoiceSelect id="job-voice" voices={ready} value={chosen} onChange={setVoiceId} />
        <label htmlFor="job-text">{t("jobs.text", { max: formatNumber(MAX_JOB_CHARACTERS) })}</label>
        <textarea id="job-text" rows={6} required maxLength={MAX_JOB_CHARACTERS} value={text} onChange={(e) => setText(e.target.value)} />
        <p className="counter">{t("speak.counter", { n: formatNumber(text.length), max: formatNumber(MAX_JOB_CHARACTERS) })}</p>
        <div className="grid">
          <div>
            <LanguageSelect id="job-language" value={language} onChange={setLanguage} />
          </div>
          <div>
            <FormatSelect value={format} onChange={setFormat} allowed={me.limits.formats} />
          </div>
        </div>
        <button type="submit" disabled={submit.busy || !chosen || !text.trim() || !me.limits.formats.includes(format)}>
          {t("jobs.submit")}
        </button>
        <ErrorBox error={submit.error} />
      </form>
      <ErrorBox error={jobs.error ?? act.error} />
      {jobs.value && jobs.value.items.length === 0 ? <p className="muted">{t("jobs.empty")}</p> : null}
      {jobs.value?.items.length ? (
        <Table
          rows={jobs.value.items}
          rowKey={(job) => job.job_id}
          rowData={(job) => ({ "data-job-id": job.job_id, "data-state": job.state })}
          columns={[
            { label: t("speak.voice"), cell: (job) => names.get(job.voice_id) ?? job.voice_id.slice(0, 8) },
            {
              label: t("jobs.state"),
              cell: (job) => (
                <>
                  <span className={`status status-${job.state}`}>{t(`jobs.state.${job.state}` as MessageKey)}</span>
                  {job.error_reason ? (
                    <div className="muted small">
                      <code>{job.error_reason}</code> {job.error_detail}
                    </div>
                  ) : null}
                </>
              ),
            },
            { label: t("jobs.progress"), cell: (job) => <ProgressBar value={job.progress} label={t("jobs.progress")} /> },
            { label: t("jobs.characters"), cell: (job) => formatNumber(job.characters) },
            { label: t("jobs.created"), cell: (job) => formatDate(job.created_at) },
            {
              label: t("voices.actions"),
              className: "actions",
              cell: (job) => (
                <>
                  {LIVE.has(job.state) ? (
                    <button
                      type="button"
                      className="secondary"
                      disabled={act.busy}
                      onClick={() =>
                        void act.run(async () => {
                          await unwrap(api.DELETE("/v1/jobs/{job_id}", { params: { path: { job_id: job.job_id } } }));
                          await jobs.refresh();
                        })
                      }
                    >
                      {t("jobs.cancel")}
                    </button>
                  ) : null}
                  {job.state === "succeeded" ? (
                    <button
                      type="button"
                      disabled={act.busy}
                      onClick={() =>
                        void act.run(async () => {
                          const blob = await unwrap(api.GET("/v1/jobs/{job_id}/audio", { params: { path: { job_id: job.job_id } }, parseAs: "blob" }));
                          saveBlob(blob as Blob, `timbre-job-${job.job_id.slice(0, 8)}.${EXTENSIONS[job.format] ?? "audio"}`);
                        })
                      }
                    >
                      {t("common.download")}
                    </button>
                  ) : null}
                </>
              ),
            },
          ]}
        />
      ) : null}
    </section>
  );
}

import { useState } from "react";
import { api, unwrap } from "../api/client";
import { ProgressBar, saveBlob, useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { useMe } from "../me";
import { EXTENSIONS } from "../player";
import { FormatSelect, FORMATS, useReadyVoices } from "./Speak";

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
  const [language, setLanguage] = useState<"th" | "en">("th");
  const [format, setFormat] = useState<(typeof FORMATS)[number]>("mp3");
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
        <label htmlFor="job-voice">{t("speak.voice")}</label>
        <select id="job-voice" value={chosen} onChange={(e) => setVoiceId(e.target.value)} required>
          {ready.map((voice) => (
            <option key={voice.id} value={voice.id}>
              {voice.name}
            </option>
          ))}
        </select>
        <label htmlFor="job-text">{t("jobs.text", { max: formatNumber(MAX_JOB_CHARACTERS) })}</label>
        <textarea id="job-text" rows={6} required maxLength={MAX_JOB_CHARACTERS} value={text} onChange={(e) => setText(e.target.value)} />
        <p className="counter">{t("speak.counter", { n: formatNumber(text.length), max: formatNumber(MAX_JOB_CHARACTERS) })}</p>
        <div className="grid">
          <div>
            <label htmlFor="job-language">{t("common.language")}</label>
            <select id="job-language" value={language} onChange={(e) => setLanguage(e.target.value as "th" | "en")}>
              <option value="th">{t("lang.th")}</option>
              <option value="en">{t("lang.en")}</option>
            </select>
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
        <div className="table-wrap">
          <table className="stack">
            <thead>
              <tr>
                <th scope="col">{t("speak.voice")}</th>
                <th scope="col">{t("jobs.state")}</th>
                <th scope="col">{t("jobs.progress")}</th>
                <th scope="col">{t("jobs.characters")}</th>
                <th scope="col">{t("jobs.created")}</th>
                <th scope="col">{t("voices.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {jobs.value.items.map((job) => (
                <tr key={job.job_id} data-job-id={job.job_id} data-state={job.state}>
                  <td data-label={t("speak.voice")}>{names.get(job.voice_id) ?? job.voice_id.slice(0, 8)}</td>
                  <td data-label={t("jobs.state")}>
                    <span className={`status status-${job.state}`}>{t(`jobs.state.${job.state}` as MessageKey)}</span>
                    {job.error_reason ? (
                      <div className="muted small">
                        <code>{job.error_reason}</code> {job.error_detail}
                      </div>
                    ) : null}
                  </td>
                  <td data-label={t("jobs.progress")}>
                    <ProgressBar value={job.progress} label={t("jobs.progress")} />
                  </td>
                  <td data-label={t("jobs.characters")}>{formatNumber(job.characters)}</td>
                  <td data-label={t("jobs.created")}>{formatDate(job.created_at)}</td>
                  <td className="actions" data-label={t("voices.actions")}>
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
                            const blob = await unwrap(
                              api.GET("/v1/jobs/{job_id}/audio", { params: { path: { job_id: job.job_id } }, parseAs: "blob" }),
                            );
                            saveBlob(blob as Blob, `timbre-job-${job.job_id.slice(0, 8)}.${EXTENSIONS[job.format] ?? "audio"}`);
                          })
                        }
                      >
                        {t("common.download")}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

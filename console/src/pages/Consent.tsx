import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, asFormData, unwrap } from "../api/client";
import { ApiError } from "../api/problem";
import type { components } from "../api/schema";
import { CopyButton, useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { Recorder, type Recording } from "../components/Recorder";
import { ConfirmButton } from "../components/Table";
import { type Lang, LanguageSelect } from "../components/fields";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";

type ConsentOut = components["schemas"]["ConsentOut"];
type Challenge = components["schemas"]["ChallengeOut"];
export const PROHIBITED_USES = [
  "fraud_impersonation",
  "non_consensual_content",
  "political_manipulation",
  "harassment_defamation",
  "undisclosed_deepfake",
] as const;

function inAYear(): string {
  const date = new Date();
  date.setFullYear(date.getFullYear() + 1);
  return date.toISOString().slice(0, 10);
}

export function Consent() {
  const { voiceId = "" } = useParams();
  const { t, formatDate } = useI18n();
  const path = { params: { path: { voice_id: voiceId } } };
  const voice = usePoll(() => unwrap(api.GET("/v1/voices/{voice_id}", path)), [voiceId]);
  const consent = usePoll(async () => {
    try {
      return await unwrap(api.GET("/v1/voices/{voice_id}/consent", path));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null; // none recorded yet
      throw error;
    }
  }, [voiceId]);
  const [ownerUrl, setOwnerUrl] = useState<string | null>(null);
  const [notice, setNotice] = useState<MessageKey | null>(null);
  const action = useAction();
  const current = consent.value;
  const active = current && !current.revoked_at;

  const afterChange = async (next: ConsentOut, message: MessageKey) => {
    setOwnerUrl(next.owner_url ?? null);
    setNotice(message);
    await consent.refresh();
    await voice.refresh();
  };

  return (
    <section aria-labelledby="consent-title">
      <p>
        <Link to="/voices">← {t("consent.back")}</Link>
      </p>
      <h1 id="consent-title">{t("consent.title", { name: voice.value?.name ?? "…" })}</h1>
      <ErrorBox error={voice.error ?? consent.error ?? action.error} />
      {notice ? (
        <p role="status" className="ok">
          {t(notice)}
        </p>
      ) : null}
      {ownerUrl ? (
        <div className="card highlight">
          <h2>{t("consent.ownerLink")}</h2>
          <p className="muted small">{t("consent.ownerLinkHint")}</p>
          <div className="row">
            <input readOnly aria-label={t("consent.ownerLink")} value={ownerUrl} className="mono grow" data-testid="owner-url" />
            <CopyButton text={ownerUrl} />
          </div>
        </div>
      ) : null}
      <div className="card">
        <h2>{t("consent.current")}</h2>
        {current === null ? <p className="muted">{t("consent.none")}</p> : null}
        {current ? (
          <>
            <dl className="facts">
              <dt>{t("consent.owner")}</dt>
              <dd>{current.owner_name}</dd>
              <dt>{t("consent.purpose")}</dt>
              <dd>{current.purpose}</dd>
              <dt>{t("consent.kind")}</dt>
              <dd>{current.kind}</dd>
              <dt>{t("consent.expires")}</dt>
              <dd>{formatDate(current.expires_at)}</dd>
              {current.speaker_score != null ? (
                <>
                  <dt>{t("consent.score")}</dt>
                  <dd>{current.speaker_score.toFixed(2)}</dd>
                </>
              ) : null}
            </dl>
            {current.revoked_at ? <p className="status status-disabled">{t("consent.revokedAt", { date: formatDate(current.revoked_at) })}</p> : null}
            {active ? (
              <div className="row">
                <button
                  type="button"
                  className="secondary"
                  disabled={action.busy}
                  onClick={() =>
                    void action.run(async () => {
                      const link = await unwrap(api.POST("/v1/voices/{voice_id}/consent/owner-link", path));
                      setOwnerUrl(link.owner_url);
                      setNotice("consent.rotated");
                    })
                  }
                >
                  {t("consent.rotate")}
                </button>
                <ConfirmButton
                  disabled={action.busy}
                  onConfirmed={() => void action.run(async () => afterChange(await unwrap(api.DELETE("/v1/voices/{voice_id}/consent", path)), "consent.revoked"))}
                >
                  {t("consent.revoke")}
                </ConfirmButton>
              </div>
            ) : null}
          </>
        ) : null}
      </div>
      {!active && voice.value && voice.value.status !== "disabled" ? (
        <RecordConsent voiceId={voiceId} onGranted={(granted) => afterChange(granted, "consent.granted")} />
      ) : null}
    </section>
  );
}

function RecordConsent({ voiceId, onGranted }: { voiceId: string; onGranted: (consent: ConsentOut) => Promise<void> }) {
  const { t, lang } = useI18n();
  const [language, setLanguage] = useState<Lang>(lang);
  const [challenge, setChallenge] = useState<Challenge>();
  const [recording, setRecording] = useState<Recording | null>(null);
  const [ownerName, setOwnerName] = useState("");
  const [purpose, setPurpose] = useState("");
  const [expires, setExpires] = useState(inAYear);
  const [uses, setUses] = useState<string[]>([]);
  const { busy, error, run } = useAction();
  const path = { params: { path: { voice_id: voiceId } } };
  const complete = challenge && recording && ownerName.trim() && purpose.trim() && uses.length === PROHIBITED_USES.length;

  return (
    <form
      className="card"
      aria-labelledby="record-consent"
      onSubmit={(event) => {
        event.preventDefault();
        if (!challenge || !recording) return;
        void run(async () => {
          const form = new FormData();
          form.append("challenge_id", challenge.challenge_id);
          form.append("owner_name", ownerName.trim());
          form.append("purpose", purpose.trim());
          form.append("expires_at", new Date(`${expires}T23:59:59`).toISOString());
          uses.forEach((use) => form.append("prohibited_uses_acknowledged", use));
          form.append("file", recording.blob, recording.filename);
          await onGranted(await unwrap(api.POST("/v1/voices/{voice_id}/consent", { ...path, body: form as never, ...asFormData })));
        });
      }}
    >
      <h2 id="record-consent">{t("consent.step1")}</h2>
      <div className="row">
        <LanguageSelect id="challenge-language" value={language} onChange={setLanguage} />
        <button
          type="button"
          className="secondary"
          disabled={busy}
          onClick={() => void run(async () => setChallenge(await unwrap(api.POST("/v1/voices/{voice_id}/consent/challenge", { ...path, body: { language } }))))}
        >
          {t("consent.getStatement")}
        </button>
      </div>
      {challenge ? (
        <>
          <p>{t("consent.read")}</p>
          <blockquote className="statement" lang={language} data-testid="statement">
            {challenge.statement}
          </blockquote>
          <h2>{t("consent.step2")}</h2>
          <Recorder onRecorded={setRecording} />
          <h2>{t("consent.step3")}</h2>
          <label htmlFor="owner-name">{t("consent.ownerName")}</label>
          <input id="owner-name" required maxLength={200} value={ownerName} onChange={(e) => setOwnerName(e.target.value)} />
          <label htmlFor="purpose">{t("consent.purposeLabel")}</label>
          <textarea id="purpose" required maxLength={2000} rows={2} value={purpose} onChange={(e) => setPurpose(e.target.value)} />
          <label htmlFor="expires">{t("consent.expiresLabel")}</label>
          <input id="expires" type="date" required value={expires} onChange={(e) => setExpires(e.target.value)} />
          <fieldset>
            <legend>{t("consent.prohibited")}</legend>
            {PROHIBITED_USES.map((use) => (
              <label key={use} className="check">
                <input
                  type="checkbox"
                  checked={uses.includes(use)}
                  onChange={(e) => setUses(e.target.checked ? [...uses, use] : uses.filter((u) => u !== use))}
                />{" "}
                {t(`consent.use.${use}` as MessageKey)}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={busy || !complete}>
            {busy ? t("consent.sending") : t("consent.submit")}
          </button>
        </>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}

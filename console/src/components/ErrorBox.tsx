import { ApiError, type Problem } from "../api/problem";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";

// Reasons whose remedy the status alone does not tell (a quota and a rate limit are both 429).
const REASON_HINTS: Record<string, MessageKey> = {
  QUOTA_EXCEEDED: "error.hint.quota",
  VOICE_PROFILE_LIMIT: "error.hint.voiceLimit",
  CONCURRENCY_LIMIT: "error.hint.concurrency",
  FORMAT_NOT_IN_TIER: "error.hint.format",
  CONSENT_REQUIRED: "error.hint.consent",
  CONSENT_SPEAKER_MISMATCH: "error.hint.speaker",
  CONSENT_PHRASE_MISMATCH: "error.hint.phrase",
  AUDIO_TOO_SHORT: "error.hint.short",
  VOICE_NOT_READY: "error.hint.409",
  API_KEY_REVOKED: "error.hint.401",
};

/** What to do next: the problem's own title and detail say what happened. */
export function hintKey(status: number, reason?: string | null): MessageKey {
  if (reason && REASON_HINTS[reason]) return REASON_HINTS[reason];
  if (status >= 500) return "error.hint.5xx";
  const known = [0, 400, 401, 402, 403, 404, 409, 413, 429];
  if (status === 422) return "error.hint.400";
  return known.includes(status) ? (`error.hint.${status}` as MessageKey) : "error.hint.400";
}

export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const problem: Problem =
    error instanceof ApiError ? error.problem : { title: error instanceof Error ? error.message : String(error), status: 0 };
  const fields = problem.errors ?? [];
  return (
    <div className="problem" role="alert">
      <p className="problem-title">
        {problem.title}
        {problem.status ? <span className="problem-status"> ({problem.status}{problem.reason ? ` ${problem.reason}` : ""})</span> : null}
      </p>
      {problem.detail ? <p className="problem-detail">{problem.detail}</p> : null}
      {fields.length ? (
        <ul>
          {fields.map((f, i) => (
            <li key={i}>
              <code>{f.location.join(".")}</code>: {f.message}
            </li>
          ))}
        </ul>
      ) : null}
      <p className="problem-hint">{t(hintKey(problem.status, problem.reason))}</p>
      {problem.request_id ? (
        <p className="muted small">
          {t("error.request")}: <code>{problem.request_id}</code>
        </p>
      ) : null}
    </div>
  );
}

// The voice owner's page: reached by the private link in the consent answer, no tenant account. The
// token travels in the Authorization header to /v1/owner/…, never in an API URL (logs keep URLs).
import { useMemo, useState } from "react";
import { useParams } from "react-router-dom";
import { createApi, unwrap } from "../api/client";
import { ApiError } from "../api/problem";
import { BarChart } from "../components/BarChart";
import { useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import { LanguageSwitch } from "../App";

export function OwnerPortal() {
  const { token = "" } = useParams();
  const { t, formatDate, formatNumber } = useI18n();
  const owner = useMemo(() => createApi({ bearer: () => token }), [token]);
  const view = usePoll(() => unwrap(owner.GET("/v1/owner/consent")), [token]);
  const [revoked, setRevoked] = useState(false);
  const act = useAction();
  const badLink = view.error instanceof ApiError && (view.error.status === 404 || view.error.status === 401);
  const data = view.value;

  return (
    <main className="narrow" id="main">
      <div className="row spread">
        <p className="brand">{t("app.name")}</p>
        <LanguageSwitch />
      </div>
      <h1>{t("owner.title")}</h1>
      <p className="lead">{t("owner.intro")}</p>
      {badLink ? (
        <p className="problem" role="alert">
          {t("owner.badLink")}
        </p>
      ) : (
        <ErrorBox error={view.error} />
      )}
      {data ? (
        <>
          <div className="card">
            <h2>{t("owner.voiceOf", { name: data.owner_name })}</h2>
            <dl className="facts">
              <dt>{t("owner.holder")}</dt>
              <dd data-testid="holder">{data.tenant_name}</dd>
              <dt>{t("owner.voiceName")}</dt>
              <dd>{data.voice_name}</dd>
              <dt>{t("owner.purpose")}</dt>
              <dd>{data.purpose}</dd>
              <dt>{t("owner.granted")}</dt>
              <dd>{formatDate(data.granted_at)}</dd>
              <dt>{t("owner.expires")}</dt>
              <dd>{formatDate(data.expires_at)}</dd>
              <dt>{t("owner.status")}</dt>
              <dd>
                <span className={`status status-${data.status}`} data-testid="owner-status">
                  {t(`owner.status.${data.status}` as MessageKey)}
                </span>
              </dd>
            </dl>
          </div>
          <div className="card">
            <h2>{t("owner.generations")}</h2>
            <BarChart bars={data.generations.map((m) => ({ label: m.month, value: m.requests }))} title={t("owner.generations")} format={(n) => formatNumber(n)} />
            <ul className="months">
              {data.generations
                .filter((m) => m.requests > 0)
                .map((m) => (
                  <li key={m.month} data-testid="owner-month">
                    {m.month}: {t("owner.requests", { n: formatNumber(m.requests) })}
                  </li>
                ))}
            </ul>
          </div>
          {revoked ? (
            <p className="ok" role="status">
              {t("owner.revoked")}
            </p>
          ) : null}
          {data.status === "active" ? (
            <button
              type="button"
              className="danger big-button"
              disabled={act.busy}
              onClick={() =>
                window.confirm(t("owner.revokeConfirm")) &&
                void act.run(async () => {
                  await unwrap(owner.POST("/v1/owner/consent/revoke"));
                  setRevoked(true);
                  await view.refresh();
                })
              }
            >
              {t("owner.revoke")}
            </button>
          ) : null}
          <ErrorBox error={act.error} />
        </>
      ) : null}
    </main>
  );
}

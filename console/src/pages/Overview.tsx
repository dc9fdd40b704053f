import { api, unwrap } from "../api/client";
import { BarChart, QuotaMeter } from "../components/BarChart";
import { usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { useI18n } from "../i18n";
import { useMe } from "../me";

export function Overview() {
  const { t, formatNumber, formatDate } = useI18n();
  const { me } = useMe();
  const usage = usePoll(() => unwrap(api.GET("/v1/usage", { params: { query: { group_by: "day" } } })), []);
  const { limits, usage: period, tenant } = me;
  const limit = limits.characters_per_month;
  const used = period.characters_used + period.characters_reserved;
  const rows = usage.value && typeof usage.value !== "string" ? usage.value.rows : [];
  const bars = rows.map((row) => ({ label: row.key.slice(5), value: row.characters }));
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">{t("overview.title")}</h1>
      <p className="lead">
        {tenant.name} · {t("overview.tier")}: <strong className={`tier tier-${tenant.tier}`}>{tenant.tier}</strong>
      </p>
      <div className="cards">
        <div className="card">
          <h2>{t("overview.characters")}</h2>
          <QuotaMeter
            used={used}
            limit={limit}
            label={t("overview.quotaChart")}
            text={t("overview.charactersOf", { used: formatNumber(used), limit: limit < 0 ? t("common.unlimited") : formatNumber(limit) })}
          />
          <p className="muted small">{t("overview.resets", { date: formatDate(period.resets_at) })}</p>
        </div>
        <div className="card">
          <h2>{t("overview.voices")}</h2>
          <p className="big">
            {period.voice_profiles_used} / {limits.voice_profiles < 0 ? t("common.unlimited") : limits.voice_profiles}
          </p>
        </div>
        <div className="card">
          <h2>{t("overview.running")}</h2>
          <p className="big">
            {period.jobs_running} / {limits.concurrent_jobs}
          </p>
        </div>
      </div>
      <div className="card">
        <h2>{t("overview.daily")}</h2>
        <ErrorBox error={usage.error} />
        {bars.some((b) => b.value > 0) ? <BarChart bars={bars} title={t("overview.daily")} format={formatNumber} /> : <p className="muted">{t("overview.noUsage")}</p>}
      </div>
    </section>
  );
}

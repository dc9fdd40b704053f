import { useState } from "react";
import { api, unwrap } from "../api/client";
import { CopyButton, useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { useI18n } from "../i18n";

const EVENTS = ["job.succeeded", "job.failed"] as const;

/** A secret the API shows once: a copy button, and a warning that it will not come back. */
function ShownOnce({ secret, warning, testId }: { secret: string; warning: string; testId: string }) {
  return (
    <div className="card highlight" role="status">
      <p>
        <strong>{warning}</strong>
      </p>
      <div className="row">
        <input readOnly aria-label={warning} value={secret} className="mono grow" data-testid={testId} />
        <CopyButton text={secret} />
      </div>
    </div>
  );
}

export function Keys() {
  return (
    <>
      <ApiKeys />
      <Webhooks />
    </>
  );
}

function ApiKeys() {
  const { t, formatDate } = useI18n();
  const keys = usePoll(() => unwrap(api.GET("/v1/api-keys")), []);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string>();
  const act = useAction();
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">{t("keys.title")}</h1>
      <form
        className="card row"
        onSubmit={(event) => {
          event.preventDefault();
          void act.run(async () => {
            const created = await unwrap(api.POST("/v1/api-keys", { body: { name } }));
            setSecret(created.api_key);
            setName("");
            await keys.refresh();
          });
        }}
      >
        <label htmlFor="key-name">{t("keys.name")}</label>
        <input id="key-name" maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={act.busy}>
          {t("keys.create")}
        </button>
      </form>
      {secret ? <ShownOnce secret={secret} warning={t("keys.secretOnce")} testId="new-key" /> : null}
      <ErrorBox error={keys.error ?? act.error} />
      {keys.value ? (
        <div className="table-wrap">
          <table className="stack">
            <thead>
              <tr>
                <th scope="col">{t("keys.prefix")}</th>
                <th scope="col">{t("keys.name")}</th>
                <th scope="col">{t("keys.created")}</th>
                <th scope="col">{t("keys.lastUsed")}</th>
                <th scope="col">{t("voices.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {keys.value.items.map((key) => (
                <tr key={key.id}>
                  <td data-label={t("keys.prefix")}>
                    <code>{key.prefix}…</code>
                  </td>
                  <td data-label={t("keys.name")}>{key.name || t("common.none")}</td>
                  <td data-label={t("keys.created")}>{formatDate(key.created_at)}</td>
                  <td data-label={t("keys.lastUsed")}>{formatDate(key.last_used_at)}</td>
                  <td data-label={t("voices.actions")}>
                    {key.revoked_at ? (
                      <span className="status status-disabled">{t("keys.revoked")}</span>
                    ) : (
                      <button
                        type="button"
                        className="danger"
                        aria-label={t("keys.revokeKey", { name: key.name || key.prefix })}
                        disabled={act.busy}
                        onClick={() =>
                          window.confirm(t("common.confirm")) &&
                          void act.run(async () => {
                            await unwrap(api.DELETE("/v1/api-keys/{key_id}", { params: { path: { key_id: key.id } } }));
                            await keys.refresh();
                          })
                        }
                      >
                        {t("keys.revoke")}
                      </button>
                    )}
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

function Webhooks() {
  const { t, formatDate } = useI18n();
  const hooks = usePoll(() => unwrap(api.GET("/v1/webhooks")), []);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>([...EVENTS]);
  const [secret, setSecret] = useState<string>();
  const act = useAction();
  return (
    <section aria-labelledby="hooks-title">
      <h2 id="hooks-title">{t("hooks.title")}</h2>
      <form
        className="card"
        onSubmit={(event) => {
          event.preventDefault();
          void act.run(async () => {
            const created = await unwrap(api.POST("/v1/webhooks", { body: { url, events: events as (typeof EVENTS)[number][] } }));
            setSecret(created.secret ?? undefined);
            setUrl("");
            await hooks.refresh();
          });
        }}
      >
        <label htmlFor="hook-url">{t("hooks.url")}</label>
        <input id="hook-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/timbre" />
        <fieldset>
          <legend>{t("hooks.events")}</legend>
          {EVENTS.map((name) => (
            <label key={name} className="check">
              <input type="checkbox" checked={events.includes(name)} onChange={(e) => setEvents(e.target.checked ? [...events, name] : events.filter((x) => x !== name))} />{" "}
              <code>{name}</code>
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={act.busy || !events.length}>
          {t("hooks.add")}
        </button>
      </form>
      {secret ? <ShownOnce secret={secret} warning={t("hooks.secretOnce")} testId="new-webhook-secret" /> : null}
      <ErrorBox error={hooks.error ?? act.error} />
      {hooks.value && hooks.value.items.length === 0 ? <p className="muted">{t("hooks.empty")}</p> : null}
      {hooks.value?.items.length ? (
        <div className="table-wrap">
          <table className="stack">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">{t("hooks.events")}</th>
                <th scope="col">{t("hooks.health")}</th>
                <th scope="col">{t("keys.created")}</th>
                <th scope="col">{t("voices.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {hooks.value.items.map((hook) => (
                <tr key={hook.webhook_id}>
                  <td className="wrap" data-label="URL">
                    <code>{hook.url}</code>
                  </td>
                  <td data-label={t("hooks.events")}>{hook.events.join(", ")}</td>
                  <td data-label={t("hooks.health")}>
                    {hook.disabled
                      ? `${t("hooks.disabled")} ${hook.disabled_reason ?? ""}`
                      : hook.consecutive_failures
                        ? t("hooks.failing", { n: hook.consecutive_failures })
                        : t("hooks.ok")}
                  </td>
                  <td data-label={t("keys.created")}>{formatDate(hook.created_at)}</td>
                  <td data-label={t("voices.actions")}>
                    <button
                      type="button"
                      className="danger"
                      aria-label={t("hooks.remove", { url: hook.url })}
                      disabled={act.busy}
                      onClick={() =>
                        window.confirm(t("common.confirm")) &&
                        void act.run(async () => {
                          await unwrap(api.DELETE("/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: hook.webhook_id } } }));
                          await hooks.refresh();
                        })
                      }
                    >
                      {t("common.delete")}
                    </button>
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

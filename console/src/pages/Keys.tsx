import { useState } from "react";
import { api, unwrap } from "../api/client";
import { CopyButton, useAction, usePoll } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { ConfirmButton, Table } from "../components/Table";
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
        <Table
          rows={keys.value.items}
          rowKey={(key) => key.id}
          columns={[
            { label: t("keys.prefix"), cell: (key) => <code>{key.prefix}…</code> },
            { label: t("keys.name"), cell: (key) => key.name || t("common.none") },
            { label: t("keys.created"), cell: (key) => formatDate(key.created_at) },
            { label: t("keys.lastUsed"), cell: (key) => formatDate(key.last_used_at) },
            {
              label: t("voices.actions"),
              cell: (key) =>
                key.revoked_at ? (
                  <span className="status status-disabled">{t("keys.revoked")}</span>
                ) : (
                  <ConfirmButton
                    label={t("keys.revokeKey", { name: key.name || key.prefix })}
                    disabled={act.busy}
                    onConfirmed={() =>
                      void act.run(async () => {
                        await unwrap(api.DELETE("/v1/api-keys/{key_id}", { params: { path: { key_id: key.id } } }));
                        await keys.refresh();
                      })
                    }
                  >
                    {t("keys.revoke")}
                  </ConfirmButton>
                ),
            },
          ]}
        />
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
        <Table
          rows={hooks.value.items}
          rowKey={(hook) => hook.webhook_id}
          columns={[
            { label: "URL", className: "wrap", cell: (hook) => <code>{hook.url}</code> },
            { label: t("hooks.events"), cell: (hook) => hook.events.join(", ") },
            {
              label: t("hooks.health"),
              cell: (hook) =>
                hook.disabled
                  ? `${t("hooks.disabled")} ${hook.disabled_reason ?? ""}`
                  : hook.consecutive_failures
                    ? t("hooks.failing", { n: hook.consecutive_failures })
                    : t("hooks.ok"),
            },
            { label: t("keys.created"), cell: (hook) => formatDate(hook.created_at) },
            {
              label: t("voices.actions"),
              cell: (hook) => (
                <ConfirmButton
                  label={t("hooks.remove", { url: hook.url })}
                  disabled={act.busy}
                  onConfirmed={() =>
                    void act.run(async () => {
                      await unwrap(api.DELETE("/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: hook.webhook_id } } }));
                      await hooks.refresh();
                    })
                  }
                >
                  {t("common.delete")}
                </ConfirmButton>
              ),
            },
          ]}
        />
      ) : null}
    </section>
  );
}

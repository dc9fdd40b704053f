import { useState } from "react";
import { createApi, unwrap } from "../api/client";
import { session } from "../api/session";
import { useAction } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { useI18n } from "../i18n";
import { LanguageSwitch } from "../App";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const { t } = useI18n();
  const [key, setKey] = useState("");
  const { busy, error, run } = useAction();
  return (
    <main className="narrow signin" id="main">
      <div className="row spread">
        <h1>{t("signIn.title")}</h1>
        <LanguageSwitch />
      </div>
      <form
        className="card"
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            // Checked before it is kept: a wrong key never lands in storage.
            await unwrap(createApi({ bearer: () => key.trim() }).GET("/v1/me"));
            session.set(key);
            onSignedIn();
          });
        }}
      >
        <label htmlFor="api-key">{t("signIn.key")}</label>
        <input id="api-key" type="password" autoComplete="off" spellCheck={false} required value={key} onChange={(e) => setKey(e.target.value)} placeholder="tmb_…" />
        <p className="muted small">{t("signIn.hint")}</p>
        <button type="submit" disabled={busy || !key.trim()}>
          {t("signIn.submit")}
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

// The signed-in tenant (GET /v1/me): tier, limits and this period's usage, shared by every page.
import { createContext, useContext, useEffect, type ReactNode } from "react";
import { api, unwrap } from "./api/client";
import { ApiError } from "./api/problem";
import type { components } from "./api/schema";
import { usePoll } from "./components/bits";
import { ErrorBox } from "./components/ErrorBox";
import { useI18n } from "./i18n";

export type Me = components["schemas"]["MeOut"];
type MeState = { me: Me; refresh: () => Promise<void> };
const Context = createContext<MeState | null>(null);

export function MeProvider({ children, onUnauthorized }: { children: ReactNode; onUnauthorized: () => void }) {
  const { t } = useI18n();
  const { value, error, refresh } = usePoll(() => unwrap(api.GET("/v1/me")), []);
  useEffect(() => {
    if (error instanceof ApiError && error.status === 401) onUnauthorized();
  }, [error, onUnauthorized]);
  if (error) return <main className="narrow"><ErrorBox error={error} /></main>;
  if (!value) return <p className="muted">{t("common.loading")}</p>;
  return <Context.Provider value={{ me: value, refresh }}>{children}</Context.Provider>;
}

export function useMe(): MeState {
  const value = useContext(Context);
  if (!value) throw new Error("useMe outside MeProvider");
  return value;
}

// The UI's language: Thai or English, chosen by the user (kept in localStorage), else the browser's.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { en, type MessageKey } from "./en";
import { th } from "./th";

export type Lang = "th" | "en";
const MESSAGES: Record<Lang, Record<MessageKey, string>> = { en, th };
const STORED = "timbre.lang";

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translate(lang: Lang, key: MessageKey, params: Record<string, string | number> = {}): string {
  return MESSAGES[lang][key].replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

function initialLang(): Lang {
  const stored = localStorage.getItem(STORED);
  if (stored === "th" || stored === "en") return stored;
  return navigator.language.toLowerCase().startsWith("th") ? "th" : "en";
}

type I18n = { lang: Lang; setLang: (lang: Lang) => void; t: Translate; formatNumber: (n: number) => string; formatDate: (iso?: string | null) => string };

const Context = createContext<I18n | null>(null);

export function I18nProvider({ children, lang: fixed }: { children: ReactNode; lang?: Lang }) {
  const [lang, setLangState] = useState<Lang>(fixed ?? initialLang);
  const setLang = useCallback((next: Lang) => {
    localStorage.setItem(STORED, next);
    setLangState(next);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const value = useMemo<I18n>(() => {
    const locale = lang === "th" ? "th-TH" : "en-GB";
    const numbers = new Intl.NumberFormat(locale);
    const dates = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
    return {
      lang,
      setLang,
      t: (key, params) => translate(lang, key, params),
      formatNumber: (n) => numbers.format(n),
      formatDate: (iso) => (iso ? dates.format(new Date(iso)) : "—"),
    };
  }, [lang, setLang]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(Context);
  if (!value) throw new Error("useI18n outside I18nProvider");
  return value;
}

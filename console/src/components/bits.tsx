// Small shared pieces: progress bar, copy button, a polling hook, an async-action hook.
import { useCallback, useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n";

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const percent = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
      <div className="progress-fill" style={{ width: `${percent}%` }} />
      <span className="progress-text">{percent}%</span>
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label?: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="secondary"
      aria-label={label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // clipboard refused (insecure context): the text is selectable on the page
        }
        setCopied(true);
        window.setTimeout(() => setCopied(false), 2000);
      }}
    >
      {copied ? t("common.copied") : t("common.copy")}
    </button>
  );
}

/** Runs `load` now, whenever `deps` change, and every `everyMs` while `active` says so. */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], everyMs = 0, active: (value: T | undefined) => boolean = () => false) {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<unknown>();
  const latest = useRef(load);
  latest.current = load;
  const refresh = useCallback(async () => {
    try {
      setValue(await latest.current());
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void refresh();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    if (!everyMs || !active(value)) return;
    const timer = window.setTimeout(() => void refresh(), everyMs);
    return () => window.clearTimeout(timer);
  });
  return { value, error, refresh };
}

/** A user action: busy while it runs, its error kept for an ErrorBox. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

/** Saves a Blob as a file through a temporary link (the API answers need the Authorization header). */
export function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

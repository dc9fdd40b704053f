// Form fields several pages share: the speech language, the voice, the audio format of the tier.
import type { components } from "../api/schema";
import { useI18n } from "../i18n";

export type Lang = "th" | "en";
export const FORMATS = ["mp3", "wav", "flac", "ogg"] as const;
export type Format = (typeof FORMATS)[number];
type Voice = components["schemas"]["VoiceOut"];

export function LanguageSelect({ id, value, onChange }: { id: string; value: Lang; onChange: (lang: Lang) => void }) {
  const { t } = useI18n();
  return (
    <>
      <label htmlFor={id}>{t("common.language")}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as Lang)}>
        <option value="th">{t("lang.th")}</option>
        <option value="en">{t("lang.en")}</option>
      </select>
    </>
  );
}

export function VoiceSelect({ id, voices, value, onChange }: { id: string; voices: Voice[]; value: string; onChange: (voiceId: string) => void }) {
  const { t } = useI18n();
  return (
    <>
      <label htmlFor={id}>{t("speak.voice")}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required>
        {voices.map((voice) => (
          <option key={voice.id} value={voice.id}>
            {voice.name}
          </option>
        ))}
      </select>
    </>
  );
}

/** Every format, those outside the tenant's tier listed but disabled ("not in your plan"). */
export function FormatSelect({ value, onChange, allowed }: { value: Format; onChange: (f: Format) => void; allowed: string[] }) {
  const { t } = useI18n();
  return (
    <>
      <label htmlFor="format">{t("speak.format")}</label>
      <select id="format" value={value} onChange={(e) => onChange(e.target.value as Format)}>
        {FORMATS.map((format) => (
          <option key={format} value={format} disabled={!allowed.includes(format)}>
            {allowed.includes(format) ? format : t("speak.notInTier", { format })}
          </option>
        ))}
      </select>
    </>
  );
}

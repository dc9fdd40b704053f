import { useState } from "react";
import { api, asFormData, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { useAction } from "../components/bits";
import { ErrorBox } from "../components/ErrorBox";
import { useI18n } from "../i18n";

type Detection = components["schemas"]["DetectOut"];
type Provenance = components["schemas"]["ProvenanceOut"];

export function Watermark() {
  const { t, formatDate } = useI18n();
  const [over, setOver] = useState(false);
  const [detection, setDetection] = useState<Detection>();
  const [provenance, setProvenance] = useState<Provenance>();
  const [fileName, setFileName] = useState("");
  const { busy, error, run } = useAction();

  const check = (file: File) =>
    void run(async () => {
      setDetection(undefined);
      setProvenance(undefined);
      setFileName(file.name);
      const form = new FormData();
      form.append("file", file, file.name);
      const found = await unwrap(api.POST("/v1/watermark/detect", { body: form as never, ...asFormData }));
      setDetection(found);
      if (found.watermarked && found.generation_id != null) {
        setProvenance(
          await unwrap(api.GET("/v1/generations/{generation_id}/provenance", { params: { path: { generation_id: found.generation_id } } })),
        );
      }
    });

  return (
    <section aria-labelledby="wm-title">
      <h1 id="wm-title">{t("wm.title")}</h1>
      <p>{t("wm.intro")}</p>
      <label
        className={over ? "dropzone over" : "dropzone"}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          const file = e.dataTransfer.files[0];
          if (file) check(file);
        }}
      >
        <span>{t("wm.drop")}</span>
        <input type="file" accept="audio/*" onChange={(e) => e.target.files?.[0] && check(e.target.files[0])} />
      </label>
      {busy ? <p className="muted">{t("wm.checking")}</p> : null}
      <ErrorBox error={error} />
      {detection ? (
        <div className={detection.watermarked ? "card verdict yes" : "card verdict no"} role="status" data-testid="verdict">
          <h2>{detection.watermarked ? t("wm.yes") : t("wm.no")}</h2>
          <p className="muted small">{fileName}</p>
          <dl className="facts">
            <dt>{t("wm.confidence")}</dt>
            <dd>{(detection.confidence * 100).toFixed(1)}%</dd>
            {detection.generation_id != null ? (
              <>
                <dt>{t("wm.generation")}</dt>
                <dd>
                  <code data-testid="detected-generation">{detection.generation_id}</code>
                </dd>
              </>
            ) : null}
          </dl>
          {provenance ? (
            <>
              <h3>{t("wm.provenance")}</h3>
              {!provenance.full_record ? <p className="muted">{t("wm.notYours")}</p> : null}
              <dl className="facts">
                <dt>{t("wm.created")}</dt>
                <dd>{formatDate(provenance.created_at)}</dd>
                {provenance.full_record ? (
                  <>
                    <dt>{t("wm.voice")}</dt>
                    <dd>
                      <code>{provenance.voice_id}</code>
                    </dd>
                    <dt>{t("wm.user")}</dt>
                    <dd>
                      <code>{provenance.user_id}</code>
                    </dd>
                    <dt>{t("wm.model")}</dt>
                    <dd>{provenance.model}</dd>
                  </>
                ) : null}
              </dl>
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError } from "../api/problem";
import { I18nProvider, type Lang } from "../i18n";
import { FormatSelect } from "./fields";
import { BarChart } from "./BarChart";
import { ErrorBox } from "./ErrorBox";
import { ConfirmButton, Table } from "./Table";

const inLang = (lang: Lang, node: React.ReactNode) => render(<I18nProvider lang={lang}>{node}</I18nProvider>);

describe("ErrorBox", () => {
  const quota = new ApiError({
    type: "about:blank",
    title: "Resource exhausted",
    status: 429,
    detail: "monthly character quota of 10000 would be exceeded (9990 used)",
    reason: "QUOTA_EXCEEDED",
    request_id: "req-42",
  });

  it("shows the problem's title, detail, reason, request id and what to do", () => {
    inLang("en", <ErrorBox error={quota} />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Resource exhausted");
    expect(alert.textContent).toContain("QUOTA_EXCEEDED");
    expect(alert.textContent).toContain("monthly character quota of 10000");
    expect(alert.textContent).toContain("req-42");
    expect(alert.textContent).toContain("wait for the monthly reset");
    expect(alert.textContent).not.toContain("Too many requests");
  });

  it("falls back to the status's advice for a reason it has none for", () => {
    inLang("en", <ErrorBox error={new ApiError({ title: "Too Many Requests", status: 429, reason: "RATE_LIMITED" })} />);
    expect(screen.getByRole("alert").textContent).toContain("Too many requests: wait a moment");
  });

  it("says what to do in Thai", () => {
    inLang("th", <ErrorBox error={quota} />);
    expect(screen.getByRole("alert").textContent).toContain("รอรอบรีเซ็ตรายเดือน");
  });

  it("lists the fields at fault of a validation problem", () => {
    const invalid = new ApiError({ title: "Unprocessable", status: 422, detail: "", errors: [{ location: ["body", "text"], message: "too long", type: "x" }] });
    inLang("en", <ErrorBox error={invalid} />);
    expect(screen.getByRole("alert").textContent).toContain("body.text: too long");
  });

  it("renders nothing without an error", () => {
    const { container } = inLang("en", <ErrorBox error={undefined} />);
    expect(container.textContent).toBe("");
  });
});

describe("FormatSelect", () => {
  it("enables only the tier's formats", () => {
    inLang("en", <FormatSelect value="mp3" onChange={() => {}} allowed={["mp3"]} />);
    const options = screen.getAllByRole("option") as HTMLOptionElement[];
    const enabled = options.filter((o) => !o.disabled).map((o) => o.value);
    expect(enabled).toEqual(["mp3"]);
    expect(options.find((o) => o.value === "wav")!.textContent).toContain("not in your plan");
  });
});

describe("BarChart", () => {
  it("draws a bar per value, tallest for the largest, with a table for screen readers", () => {
    const { container } = inLang("en", <BarChart title="per month" bars={[{ label: "2026-10", value: 2 }, { label: "2026-11", value: 8 }]} />);
    const bars = Array.from(container.querySelectorAll("rect"));
    expect(bars).toHaveLength(2);
    expect(Number(bars[1].getAttribute("height"))).toBeGreaterThan(Number(bars[0].getAttribute("height")));
    expect(screen.getByRole("table").textContent).toContain("2026-11");
  });
});

describe("Table", () => {
  it("labels every cell with its column, for the narrow-screen cards", () => {
    const { container } = inLang(
      "en",
      <Table
        rows={[{ id: "a", n: 1 }, { id: "b", n: 2 }]}
        rowKey={(r) => r.id}
        rowData={(r) => ({ "data-row": r.id })}
        columns={[
          { label: "Id", cell: (r) => r.id },
          { label: "Count", cell: (r) => r.n * 10 },
        ]}
      />,
    );
    expect(screen.getAllByRole("columnheader").map((th) => th.textContent)).toEqual(["Id", "Count"]);
    const cells = Array.from(container.querySelectorAll('tr[data-row="b"] td'));
    expect(cells.map((td) => [td.getAttribute("data-label"), td.textContent])).toEqual([["Id", "b"], ["Count", "20"]]);
  });
});

describe("ConfirmButton", () => {
  it("acts only when the user confirms", async () => {
    let done = 0;
    inLang("en", <ConfirmButton onConfirmed={() => (done += 1)}>Delete</ConfirmButton>);
    window.confirm = () => false;
    screen.getByRole("button", { name: "Delete" }).click();
    expect(done).toBe(0);
    window.confirm = () => true;
    screen.getByRole("button", { name: "Delete" }).click();
    expect(done).toBe(1);
  });
});

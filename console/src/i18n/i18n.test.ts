import { describe, expect, it } from "vitest";
import { en } from "./en";
import { translate } from "./index";
import { th } from "./th";

const THAI = /[\u0E00-\u0E7F]/;

describe("UI text", () => {
  it("has a Thai text for every English key, and no extra ones", () => {
    expect(Object.keys(th).sort()).toEqual(Object.keys(en).sort());
    for (const [key, text] of Object.entries(th)) expect(text.trim(), key).not.toBe("");
  });

  it("writes the pages' headings in Thai script in Thai", () => {
    for (const key of ["nav.overview", "nav.voices", "nav.speak", "nav.jobs", "owner.title", "owner.revoke", "signIn.title"] as const) {
      expect(th[key], key).toMatch(THAI);
    }
  });

  it("keeps every placeholder of the English text in the Thai one", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      const names = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
      expect(names(th[key]), key).toEqual(names(en[key]));
    }
  });

  it("fills placeholders", () => {
    expect(translate("en", "speak.counter", { n: 12, max: "5,000" })).toBe("12 / 5,000 characters");
    expect(translate("th", "owner.requests", { n: 3 })).toBe("สร้าง 3 ครั้ง");
  });
});

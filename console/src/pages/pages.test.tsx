import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { I18nProvider } from "../i18n";
import { fakeGateway } from "../test/fakeFetch";
import { OwnerPortal } from "./OwnerPortal";
import { SignIn } from "./SignIn";

const ME = { tenant: { id: "t1", name: "Acme", tier: "pro" }, limits: {}, usage: {}, api_key_id: "k1" };

describe("SignIn", () => {
  it("keeps the key in sessionStorage only after the gateway accepts it", async () => {
    const gateway = fakeGateway({ "GET /v1/me": ({ headers }) => (headers.get("Authorization") === "Bearer tmb_good" ? { json: ME } : { status: 401, problem: { title: "Unauthorized", status: 401, detail: "unknown API key", reason: "UNAUTHENTICATED" } }) });
    let signedIn = false;
    render(
      <I18nProvider lang="en">
        <SignIn onSignedIn={() => (signedIn = true)} />
      </I18nProvider>,
    );
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("API key"), "tmb_bad");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", expect.stringContaining("unknown API key"));
    expect(session.get()).toBeNull();
    await user.clear(screen.getByLabelText("API key"));
    await user.type(screen.getByLabelText("API key"), "tmb_good");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(signedIn).toBe(true));
    expect(session.get()).toBe("tmb_good");
    expect(localStorage.length).toBe(0);
    expect(gateway.seen).toHaveLength(2);
  });
});

const VIEW = {
  voice_id: "v1",
  voice_name: "Narrator",
  owner_name: "Somchai",
  tenant_name: "Acme Audio",
  purpose: "audiobooks",
  status: "active",
  granted_at: "2026-11-01T00:00:00Z",
  expires_at: "2027-11-01T00:00:00Z",
  revoked_at: null,
  generations: [
    { month: "2026-10", requests: 0, characters: 0, audio_seconds: 0 },
    { month: "2026-11", requests: 7, characters: 300, audio_seconds: 20 },
  ],
};

function portal(token: string) {
  return render(
    <I18nProvider lang="th">
      <MemoryRouter initialEntries={[`/owner/${token}`]}>
        <Routes>
          <Route path="/owner/:token" element={<OwnerPortal />} />
        </Routes>
      </MemoryRouter>
    </I18nProvider>,
  );
}

describe("OwnerPortal", () => {
  it("shows who holds the voice and its generations per month, asking with the token from the link", async () => {
    const gateway = fakeGateway({ "GET /v1/owner/consent": { json: VIEW } });
    portal("tvo_abc");
    expect(await screen.findByTestId("holder")).toHaveProperty("textContent", "Acme Audio");
    expect(screen.getByText("เสียงของ Somchai")).toBeTruthy();
    expect(screen.getAllByTestId("owner-month").map((li) => li.textContent)).toEqual(["2026-11: สร้าง 7 ครั้ง"]);
    expect(gateway.seen[0].headers.get("Authorization")).toBe("Bearer tvo_abc");
    expect(gateway.seen[0].path).toBe("/v1/owner/consent");
  });

  it("revokes after the owner confirms, then shows the revoked status", async () => {
    let revoked = false;
    const gateway = fakeGateway({
      "GET /v1/owner/consent": () => ({ json: revoked ? { ...VIEW, status: "revoked", revoked_at: "2026-11-30T00:00:00Z" } : VIEW }),
      "POST /v1/owner/consent/revoke": () => {
        revoked = true;
        return { json: { ...VIEW, status: "revoked" } };
      },
    });
    window.confirm = () => true;
    portal("tvo_abc");
    await userEvent.setup().click(await screen.findByRole("button", { name: "เพิกถอนความยินยอมของฉัน" }));
    await waitFor(() => expect(screen.getByTestId("owner-status").textContent).toBe("เพิกถอนแล้ว"));
    expect(screen.queryByRole("button", { name: "เพิกถอนความยินยอมของฉัน" })).toBeNull();
    expect(gateway.seen.map((s) => `${s.method} ${s.path}`)).toContain("POST /v1/owner/consent/revoke");
  });

  it("explains a dead link without showing anything else", async () => {
    fakeGateway({ "GET /v1/owner/consent": { status: 404, problem: { title: "Not Found", status: 404, detail: "owner link not found", reason: "OWNER_LINK_NOT_FOUND" } } });
    portal("tvo_old");
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", expect.stringContaining("ลิงก์นี้ใช้ไม่ได้"));
    expect(screen.queryByTestId("holder")).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { createApi, unwrap } from "./client";
import { ApiError } from "./problem";
import { session } from "./session";
import { fakeGateway } from "../test/fakeFetch";

async function failure(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call;
  } catch (error) {
    return error as ApiError;
  }
  throw new Error("expected the call to fail");
}

describe("the typed API client", () => {
  it("sends the signed-in key as a bearer token", async () => {
    const gateway = fakeGateway({ "GET /v1/api-keys": { json: { items: [] } } });
    session.set("  tmb_secret  ");
    await unwrap(createApi().GET("/v1/api-keys"));
    expect(gateway.seen[0].headers.get("Authorization")).toBe("Bearer tmb_secret");
  });

  it("sends no Authorization header when nobody is signed in", async () => {
    const gateway = fakeGateway({ "GET /v1/api-keys": { json: { items: [] } } });
    await unwrap(createApi().GET("/v1/api-keys"));
    expect(gateway.seen[0].headers.has("Authorization")).toBe(false);
  });

  it("turns a problem+json answer into an ApiError with its fields", async () => {
    fakeGateway({
      "POST /v1/jobs": {
        status: 402,
        problem: { type: "about:blank", title: "Payment Required", status: 402, detail: "monthly character quota of 10000 would be exceeded", reason: "QUOTA_EXCEEDED", request_id: "r-1" },
      },
    });
    const error = await failure(unwrap(createApi({ bearer: () => "k" }).POST("/v1/jobs", { body: { voice_id: "v", text: "x" } })));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(402);
    expect(error.reason).toBe("QUOTA_EXCEEDED");
    expect(error.problem.request_id).toBe("r-1");
    expect(error.message).toContain("quota");
  });

  it("makes a problem from an answer that is not problem+json", async () => {
    fakeGateway({});
    const plain = new Response("upstream down", { status: 502, statusText: "Bad Gateway" });
    const error = await failure(unwrap(Promise.resolve({ response: plain, error: "upstream down" })));
    expect(error.status).toBe(502);
    expect(error.problem.title).toBe("Bad Gateway");
    expect(error.problem.detail).toBe("upstream down");
  });

  it("reports a network failure as a problem with status 0", async () => {
    const error = await failure(unwrap(Promise.reject(new TypeError("Failed to fetch"))));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(0);
    expect(error.reason).toBe("NETWORK");
  });

  it("sends the owner token, not the tenant key, from the owner portal's client", async () => {
    const gateway = fakeGateway({ "GET /v1/owner/consent": { json: {} } });
    session.set("tmb_tenant");
    await unwrap(createApi({ bearer: () => "tvo_owner" }).GET("/v1/owner/consent"));
    expect(gateway.seen[0].headers.get("Authorization")).toBe("Bearer tvo_owner");
  });
});

// A stand-in for the gateway in component tests: answers by method and path, records every request.
import { vi } from "vitest";

export type Answer = { status?: number; json?: unknown; problem?: Record<string, unknown> };
export type Seen = { method: string; path: string; headers: Headers; body: string };

export function fakeGateway(routes: Record<string, Answer | ((seen: Seen) => Answer)>) {
  const seen: Seen[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(String(input), init);
    const url = new URL(request.url, "http://localhost");
    const entry: Seen = { method: request.method, path: url.pathname + url.search, headers: request.headers, body: await request.clone().text() };
    seen.push(entry);
    const route = routes[`${request.method} ${url.pathname}`];
    if (!route) return new Response(JSON.stringify({ title: "Not Found", status: 404, detail: "no route", reason: "NOT_FOUND" }), { status: 404, headers: { "content-type": "application/problem+json" } });
    const answer = typeof route === "function" ? route(entry) : route;
    if (answer.problem) {
      return new Response(JSON.stringify(answer.problem), { status: answer.status ?? 400, headers: { "content-type": "application/problem+json" } });
    }
    return new Response(JSON.stringify(answer.json ?? {}), { status: answer.status ?? 200, headers: { "content-type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetch);
  return { fetch, seen };
}

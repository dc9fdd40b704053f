// Every error the gateway answers is application/problem+json (RFC 9457) with a machine-readable
// `reason`; the console shows it as it came, never a bare status code.
import type { components } from "./schema";

// Only title and status are sure to be there: a problem made here for a network failure has no more.
export type Problem = Partial<components["schemas"]["Problem"]> & { title: string; status: number };

export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }

  get reason(): string {
    return this.problem.reason ?? "";
  }
}

/** The problem in a failed response: its problem+json body, or one made from the status line. */
export async function problemOf(response: Response, body?: unknown): Promise<Problem> {
  if (isProblem(body)) return body;
  if (body === undefined) {
    try {
      const parsed: unknown = await response.clone().json();
      if (isProblem(parsed)) return parsed;
    } catch {
      // not JSON: fall through to the status line
    }
  }
  return {
    type: "about:blank",
    title: response.statusText || "Request failed",
    status: response.status,
    detail: typeof body === "string" ? body : "",
  };
}

/** A problem for a request that got no answer at all (network down, gateway stopped). */
export function networkProblem(error: unknown): Problem {
  return {
    type: "about:blank",
    title: "No answer from Timbre",
    status: 0,
    detail: error instanceof Error ? error.message : String(error),
    reason: "NETWORK",
  };
}

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Problem).title === "string" &&
    typeof (value as Problem).status === "number"
  );
}

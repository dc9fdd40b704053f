// The tenant's API key lives in sessionStorage: gone when the tab closes, never in localStorage or a
// cookie, and cleared by "sign out".
const KEY = "timbre.apiKey";

export const session = {
  get(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(apiKey: string): void {
    sessionStorage.setItem(KEY, apiKey.trim());
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};

// The APIs as the Next.js server calls them. Runs on the server only: the bearer token comes from
// the visitor's httpOnly session cookie (or, for a visitor who has not signed in, the storefront's
// own token), and never reaches the browser.
import "server-only";
import createClient from "openapi-fetch";
import { cookies } from "next/headers";

import type { paths as CommandPaths } from "@/src/api/command-api";
import type { paths as ReadPaths } from "@/src/api/read-api";
import type { paths as AuthPaths } from "@/src/api/auth";

/** The session cookie: the access token of a signed-in visitor. */
export const SESSION_COOKIE = "commerce_session";
/** The refresh token of the sign-in, for signing out (revoking it). */
export const REFRESH_COOKIE = "commerce_refresh";
/** The visitor's open cart. */
export const CART_COOKIE = "commerce_cart";

function setting(name: string, fallback: string): string {
  return process.env[name] ?? fallback;
}

export const readApi = createClient<ReadPaths>({
  baseUrl: setting("COMMERCE_READ_API_URL", "http://127.0.0.1:8081"),
});
export const commandApi = createClient<CommandPaths>({
  baseUrl: setting("COMMERCE_COMMAND_API_URL", "http://127.0.0.1:8080"),
});
export const authApi = createClient<AuthPaths>({
  baseUrl: setting("COMMERCE_AUTH_API_URL", "http://127.0.0.1:8084"),
});

/** The signed-in visitor's token, if any. */
export async function sessionToken(): Promise<string | undefined> {
  return (await cookies()).get(SESSION_COOKIE)?.value;
}

/** The claims of a token the services issued (read, not verified: the APIs verify it). */
export function claims(token: string): { sub?: string; role?: string; vendor_id?: string } {
  try {
    return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
  } catch {
    return {};
  }
}

/** The bearer token the server sends for this request's visitor. */
export async function bearer(): Promise<{ Authorization: string } | Record<string, never>> {
  const session = (await cookies()).get(SESSION_COOKIE)?.value;
  const token = session ?? process.env.COMMERCE_STOREFRONT_TOKEN;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A problem+json answer, in words for the page. */
export type Problem = { title?: string; detail?: string; status?: number };

export function problemText(problem: Problem | undefined, fallback: string): string {
  return problem?.detail || problem?.title || fallback;
}

/** Money as people read it: 19.99 EUR. */
export function money(value: { amount_minor: number; currency: string }): string {
  return `${(value.amount_minor / 100).toFixed(2)} ${value.currency}`;
}

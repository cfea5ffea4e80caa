// Keeps a visitor signed in past the access token's 15 minutes: when a page is asked for without
// a live access token but with a refresh token, the refresh token is traded (once; it is single
// use) for a new pair before the page renders, and both cookies are renewed. Only document
// navigations do it, so the prefetches and scripts of one page never race to use the same token
// (a second use would revoke the sign-in).
import { NextResponse, type NextRequest } from "next/server";

const SESSION_COOKIE = "commerce_session";
const REFRESH_COOKIE = "commerce_refresh";

export async function middleware(request: NextRequest) {
  // A page asked for as HTML (a navigation, also through the service worker), not the router's
  // prefetches and data requests.
  const navigation =
    (request.headers.get("accept") ?? "").includes("text/html") &&
    !request.headers.has("rsc") &&
    !request.headers.has("next-router-prefetch");
  const refresh = request.cookies.get(REFRESH_COOKIE)?.value;
  if (!navigation || request.cookies.has(SESSION_COOKIE) || !refresh) return NextResponse.next();
  const auth = process.env.COMMERCE_AUTH_API_URL ?? "http://127.0.0.1:8084";
  const answer = await fetch(`${auth}/v1/auth/refresh`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: refresh }),
  }).catch((error) => {
    console.warn("refreshing the sign-in failed", error);
    return undefined;
  });
  if (!answer?.ok) {
    // Expired or revoked: signed out. (Unreachable: left as it is, to try on the next page.)
    const response = NextResponse.next();
    if (answer) response.cookies.delete(REFRESH_COOKIE);
    return response;
  }
  const pair = (await answer.json()) as {
    access_token: string;
    expires_in: number;
    refresh_token: string;
    refresh_expires_in: number;
  };
  // The page rendering now sees the new token too.
  request.cookies.set(SESSION_COOKIE, pair.access_token);
  const response = NextResponse.next({ request: { headers: request.headers } });
  const options = {
    httpOnly: true,
    sameSite: "lax" as const,
    secure: process.env.COMMERCE_WEB_SECURE_COOKIES === "true",
    path: "/",
  };
  response.cookies.set(SESSION_COOKIE, pair.access_token, { ...options, maxAge: Math.max(pair.expires_in - 30, 1) });
  response.cookies.set(REFRESH_COOKIE, pair.refresh_token, { ...options, maxAge: pair.refresh_expires_in });
  return response;
}

export const config = {
  // Node.js, as the rest of the server: it reads the auth service's address when it runs.
  runtime: "nodejs",
  // Pages only: not the build's assets, the icons, the manifest or the service worker.
  matcher: ["/((?!_next/|icons/|manifest.webmanifest|sw.js).*)"],
};

// The order's status stream, passed through from the read API with the visitor's token attached
// on the server (the browser's EventSource cannot send an Authorization header, and the token
// must not reach the page anyway).
import { cookies } from "next/headers";

import { SESSION_COOKIE } from "@/lib/api";

export const dynamic = "force-dynamic";

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return new Response("not signed in", { status: 401 });
  const { id } = await params;
  const base = process.env.COMMERCE_READ_API_URL ?? "http://127.0.0.1:8081";
  const upstream = await fetch(`${base}/v1/orders/${encodeURIComponent(id)}/events`, {
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: "text/event-stream",
      ...(request.headers.get("last-event-id") ? { "Last-Event-ID": request.headers.get("last-event-id")! } : {}),
    },
    signal: request.signal,
  });
  return new Response(upstream.body, {
    status: upstream.status,
    headers: {
      "Content-Type": upstream.headers.get("content-type") ?? "text/event-stream",
      "Cache-Control": "no-cache, no-transform",
    },
  });
}

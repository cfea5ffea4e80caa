// The visitor's orders, newest first.
import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";

import { bearer, money, problemText, readApi, sessionToken } from "@/lib/api";

export const metadata: Metadata = { title: "Your orders" };
export const dynamic = "force-dynamic";

export default async function OrdersPage() {
  if (!(await sessionToken())) redirect("/signin?next=/orders");
  const { data, error } = await readApi.GET("/v1/orders", {
    params: { query: { limit: 50 } },
    headers: await bearer(),
  });
  return (
    <>
      <h1>Your orders</h1>
      {error || !data ? (
        <p className="error" role="alert">
          Your orders could not be read: {problemText(error, "the read API did not answer")}
        </p>
      ) : data.items.length === 0 ? (
        <p>No orders yet.</p>
      ) : (
        <ul className="lines">
          {data.items.map((order) => (
            <li key={order.order_id}>
              <Link href={`/orders/${order.order_id}`}>{order.status_history[0]?.at.slice(0, 10) ?? "Order"}</Link>{" "}
              <strong>{order.status}</strong> <span className="price">{money(order.total)}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

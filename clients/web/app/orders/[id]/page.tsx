// One order: its lines and total, and its status as it changes.
import type { Metadata } from "next";
import Link from "next/link";
import { notFound, redirect } from "next/navigation";

import { OrderStatus } from "@/components/order-status";
import { bearer, money, problemText, readApi, sessionToken } from "@/lib/api";

export const metadata: Metadata = { title: "Order" };
export const dynamic = "force-dynamic";

export default async function OrderPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!(await sessionToken())) redirect(`/signin?next=/orders/${id}`);
  // Just placed, it may take a moment to be projected: wait for its first version.
  const { data, error, response } = await readApi.GET("/v1/orders/{id}", {
    params: { path: { id }, query: { min_version: 1 } },
    headers: await bearer(),
  });
  if (response.status === 404 || response.status === 400) notFound();
  if (error || !data) {
    return (
      <p className="error" role="alert">
        The order could not be read: {problemText(error, "the read API did not answer")}
      </p>
    );
  }
  return (
    <article>
      <h1>Order</h1>
      <p className="muted">{data.order_id}</p>
      <OrderStatus orderId={data.order_id} status={data.status} cancelReason={data.cancel_reason} />
      <ul className="lines">
        {data.lines.map((line) => (
          <li key={line.product_id}>
            <Link href={`/products/${line.product_id}`}>{line.quantity} ×</Link>{" "}
            {money(line.unit_price)}
          </li>
        ))}
      </ul>
      <p className="price">Total: {money(data.total)}</p>
      <p>
        <Link href="/orders">Your orders</Link>
      </p>
    </article>
  );
}

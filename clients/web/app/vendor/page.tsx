// A vendor's shop: its products in the catalog, and its orders to ship.
import type { Metadata } from "next";
import Link from "next/link";

import { ShipForm } from "@/components/forms";
import { bearer, money, problemText, readApi } from "@/lib/api";
import { vendorId } from "@/lib/vendor";

export const metadata: Metadata = { title: "Your shop" };
export const dynamic = "force-dynamic";

export default async function VendorPage() {
  const vendor = await vendorId("/vendor");
  const headers = await bearer();
  const [products, orders] = await Promise.all([
    readApi.GET("/v1/catalog/products", { params: { query: { vendor_id: vendor, limit: 100 } }, headers }),
    readApi.GET("/v1/orders", { params: { query: { limit: 100 } }, headers }),
  ]);
  // A vendor reads only its own sub-order of each order: it ships the ones still confirmed, also
  // in orders other vendors have partly shipped.
  const toShip =
    orders.data?.items.filter((order) =>
      (order.sub_orders ?? []).length > 0
        ? (order.sub_orders ?? []).some((part) => part.status === "confirmed")
        : order.status === "confirmed",
    ) ?? [];
  return (
    <>
      <h1>Your shop</h1>
      <p>
        <Link className="button" href="/vendor/products/new">
          New product
        </Link>
      </p>
      <h2>Orders to ship</h2>
      {orders.error ? (
        <p className="error" role="alert">
          {problemText(orders.error, "the orders could not be read")}
        </p>
      ) : toShip.length === 0 ? (
        <p>Nothing to ship.</p>
      ) : (
        <ul className="lines">
          {toShip.map((order) => (
            <li key={order.order_id}>
              <span>
                {order.lines.reduce((units, line) => units + line.quantity, 0)} units ·{" "}
                <span className="muted">{order.order_id}</span>
              </span>
              <ShipForm orderId={order.order_id} />
            </li>
          ))}
        </ul>
      )}
      <h2>Published products</h2>
      {products.error || !products.data ? (
        <p className="error" role="alert">
          {problemText(products.error, "the products could not be read")}
        </p>
      ) : products.data.items.length === 0 ? (
        <p>None published yet.</p>
      ) : (
        <ul className="lines">
          {products.data.items.map((product) => (
            <li key={product.product_id}>
              <Link href={`/vendor/products/${product.product_id}`}>{product.title}</Link>{" "}
              <span className="price">{money(product.price)}</span>{" "}
              <span className="muted">{product.available} in stock</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

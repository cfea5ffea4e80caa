// The visitor's cart, read with the version its last change answered (read-your-writes).
import type { Metadata } from "next";
import Link from "next/link";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";

import { QuantityForm } from "@/components/forms";
import { bearer, CART_COOKIE, money, problemText, readApi, sessionToken } from "@/lib/api";

export const metadata: Metadata = { title: "Cart" };
export const dynamic = "force-dynamic";

export default async function CartPage({ searchParams }: { searchParams: Promise<{ min_version?: string }> }) {
  if (!(await sessionToken())) redirect("/signin?next=/cart");
  const cartId = (await cookies()).get(CART_COOKIE)?.value;
  if (!cartId) {
    return (
      <>
        <h1>Cart</h1>
        <p>
          Your cart is empty. <Link href="/">Browse the catalog</Link>.
        </p>
      </>
    );
  }
  const minVersion = Number((await searchParams).min_version) || undefined;
  const headers = await bearer();
  const { data, error } = await readApi.GET("/v1/carts/{id}", {
    params: { path: { id: cartId }, query: { min_version: minVersion } },
    headers,
  });
  if (error || !data) {
    return (
      <p className="error" role="alert">
        Your cart could not be read: {problemText(error, "the read API did not answer")}
      </p>
    );
  }
  const titles = new Map<string, string>();
  await Promise.all(
    data.items.map(async (item) => {
      const { data: product } = await readApi.GET("/v1/catalog/products/{id}", {
        params: { path: { id: item.product_id } },
        headers,
      });
      titles.set(item.product_id, product?.title ?? item.product_id);
    }),
  );
  return (
    <>
      <h1>Cart</h1>
      {data.items.length === 0 ? (
        <p>
          Your cart is empty. <Link href="/">Browse the catalog</Link>.
        </p>
      ) : (
        <>
          <ul className="lines">
            {data.items.map((item) => (
              <li key={item.product_id}>
                <Link href={`/products/${item.product_id}`}>{titles.get(item.product_id)}</Link>{" "}
                <span className="muted">{money(item.unit_price)} each</span>
                <QuantityForm
                  productId={item.product_id}
                  quantity={item.quantity}
                  title={titles.get(item.product_id) ?? ""}
                />
              </li>
            ))}
          </ul>
          {data.total && (
            <p className="price" data-testid="cart-total">
              Total: {money(data.total)}
            </p>
          )}
          <p>
            <Link className="button" href="/checkout">
              Check out
            </Link>
          </p>
        </>
      )}
    </>
  );
}

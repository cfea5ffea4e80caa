// One of the vendor's products: its price, stock and whether it is published, each changeable.
// Read with the version the last change answered, so the page shows it.
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { PriceForm, PublishForm, StockForm } from "@/components/forms";
import { bearer, money, problemText, readApi } from "@/lib/api";
import { CURRENCIES, decimal, vendorId } from "@/lib/vendor";

export const metadata: Metadata = { title: "Product" };
export const dynamic = "force-dynamic";

type Search = { min_version?: string; min_stock_version?: string };

export default async function VendorProductPage(props: {
  params: Promise<{ id: string }>;
  searchParams: Promise<Search>;
}) {
  const { id } = await props.params;
  await vendorId(`/vendor/products/${id}`);
  const search = await props.searchParams;
  const { data, error, response } = await readApi.GET("/v1/catalog/products/{id}", {
    params: {
      path: { id },
      query: {
        min_version: Number(search.min_version) || undefined,
        min_stock_version: Number(search.min_stock_version) || undefined,
      },
    },
    headers: await bearer(),
  });
  if (response.status === 404 || response.status === 400) notFound();
  if (error || !data) {
    return (
      <p className="error" role="alert">
        The product could not be read: {problemText(error, "the read API did not answer")}
      </p>
    );
  }
  return (
    <article>
      <p>
        <Link href="/vendor">← Your shop</Link>
      </p>
      <h1>{data.title}</h1>
      <p>
        <strong data-testid="published">{data.published ? "Published" : "Not published"}</strong> ·{" "}
        <span className="price">{money(data.price)}</span> ·{" "}
        <span data-testid="available">{data.available} in stock</span>
      </p>
      <PublishForm productId={data.product_id} published={data.published} />
      <h2>Stock</h2>
      <StockForm productId={data.product_id} />
      <h2>Price</h2>
      <PriceForm
        productId={data.product_id}
        price={decimal(data.price.amount_minor)}
        currency={data.price.currency}
        currencies={CURRENCIES}
      />
    </article>
  );
}

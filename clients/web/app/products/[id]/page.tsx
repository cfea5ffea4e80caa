// One product, rendered on the server: price, description, stock.
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { AddToCartForm } from "@/components/forms";
import { bearer, money, problemText, readApi } from "@/lib/api";

export const dynamic = "force-dynamic";

type Params = { id: string };

async function product(id: string) {
  return readApi.GET("/v1/catalog/products/{id}", {
    params: { path: { id } },
    headers: await bearer(),
  });
}

export async function generateMetadata({ params }: { params: Promise<Params> }): Promise<Metadata> {
  const { data } = await product((await params).id);
  return { title: data?.title ?? "Product" };
}

export default async function ProductPage({ params }: { params: Promise<Params> }) {
  const { id } = await params;
  const { data, error, response } = await product(id);
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
        <Link href="/">← Catalog</Link>
      </p>
      <h1>{data.title}</h1>
      <p className="price">{money(data.price)}</p>
      <p>{data.description}</p>
      <p className="muted" data-testid="stock">
        {data.available > 0 ? `${data.available} in stock` : "Out of stock"}
      </p>
      {data.available > 0 && <AddToCartForm productId={data.product_id} />}
    </article>
  );
}

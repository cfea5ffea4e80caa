// The catalog: published products, filtered by category and a search box, rendered on the server
// from the read API (fast first paint; every product a link a search engine can follow).
import Link from "next/link";

import { bearer, money, problemText, readApi } from "@/lib/api";

export const dynamic = "force-dynamic";

type Search = { q?: string; category?: string };

export default async function CatalogPage({ searchParams }: { searchParams: Promise<Search> }) {
  const { q, category } = await searchParams;
  const { data, error } = await readApi.GET("/v1/catalog/products", {
    params: { query: { q: q || undefined, category: category || undefined, limit: 48 } },
    headers: await bearer(),
  });
  return (
    <>
      <h1>Catalog</h1>
      <form className="search" role="search" action="/" method="get">
        <label htmlFor="q" className="muted">
          Search
        </label>
        <input id="q" name="q" type="search" defaultValue={q ?? ""} placeholder="Search products" />
        <label htmlFor="category" className="muted">
          Category
        </label>
        <input id="category" name="category" defaultValue={category ?? ""} placeholder="e.g. apparel" />
        <button type="submit">Search</button>
      </form>
      {error ? (
        <p className="error" role="alert">
          The catalog could not be read: {problemText(error, "the read API did not answer")}
        </p>
      ) : data.items.length === 0 ? (
        <p>No products match.</p>
      ) : (
        <ul className="products">
          {data.items.map((product) => (
            <li key={product.product_id}>
              <h2>
                <Link href={`/products/${product.product_id}`}>{product.title}</Link>
              </h2>
              <p className="price">{money(product.price)}</p>
              <p className="muted">
                {product.category} · {product.available > 0 ? `${product.available} in stock` : "out of stock"}
              </p>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

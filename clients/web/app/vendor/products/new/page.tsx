import type { Metadata } from "next";

import { NewProductForm } from "@/components/forms";
import { CURRENCIES, vendorId } from "@/lib/vendor";

export const metadata: Metadata = { title: "New product" };

export default async function NewProductPage() {
  await vendorId("/vendor/products/new");
  return (
    <>
      <h1>New product</h1>
      <p className="muted">It starts unpublished: receive stock and publish it from its page.</p>
      <NewProductForm currencies={CURRENCIES} />
    </>
  );
}

import type { Metadata } from "next";
import { redirect } from "next/navigation";

import { CheckoutForm } from "@/components/forms";
import { sessionToken } from "@/lib/api";
import commandApi from "@/openapi/command-api.json";

/** The country codes the command API accepts, from its own document. */
const COUNTRIES: string[] = commandApi.components.schemas.ShippingAddressBody.properties.country.enum;

export const metadata: Metadata = { title: "Checkout" };

export default async function CheckoutPage() {
  if (!(await sessionToken())) redirect("/signin?next=/checkout");
  return (
    <>
      <h1>Checkout</h1>
      <CheckoutForm countries={COUNTRIES} />
    </>
  );
}

// A vendor's pages: only for a signed-in vendor member, acting for the vendor its token names.
import "server-only";
import { redirect } from "next/navigation";

import { claims, sessionToken } from "@/lib/api";
import commandApi from "@/openapi/command-api.json";

/** The currencies the command API accepts, from its own document. */
export const CURRENCIES: string[] = commandApi.components.schemas.Money.properties.currency.enum;

/** The signed-in vendor's id, or a redirect to sign in (or to the catalog for a non-vendor). */
export async function vendorId(next: string): Promise<string> {
  const token = await sessionToken();
  if (!token) redirect(`/signin?next=${encodeURIComponent(next)}`);
  const { role, vendor_id } = claims(token);
  if (role !== "vendor" || !vendor_id) redirect("/");
  return vendor_id;
}

/** Minor units as the price field shows them: 1999 as "19.99". */
export function decimal(amountMinor: number): string {
  return (amountMinor / 100).toFixed(2);
}

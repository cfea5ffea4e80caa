"use server";
// What the pages' forms do, on the server: the bearer and refresh tokens live in httpOnly,
// SameSite cookies set here and never reach the browser's scripts. Each action answers a
// readable message (from the APIs' problem+json) for the form to show next to what it concerns.
import { cookies } from "next/headers";
import { redirect } from "next/navigation";

import type { components } from "@/src/api/command-api";

import {
  authApi,
  bearer,
  CART_COOKIE,
  commandApi,
  problemText,
  REFRESH_COOKIE,
  SESSION_COOKIE,
  sessionToken,
} from "@/lib/api";

type Country = components["schemas"]["ShippingAddressBody"]["country"];

/** What a form shows after its action: nothing, or a message about one field or the whole form,
 * with what was entered (never a password), so a refusal does not empty the form. */
export type FormState = { error?: string; field?: string; values?: Record<string, string> };

/** The form's entries but passwords. */
function entered(form: FormData): Record<string, string> {
  const values: Record<string, string> = {};
  form.forEach((value, name) => {
    if (typeof value === "string" && name !== "password" && !name.startsWith("$")) values[name] = value;
  });
  return values;
}

const secure = process.env.COMMERCE_WEB_SECURE_COOKIES === "true";

function text(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}

/** A local path to go back to after signing in (never another site). */
function local(path: string): string {
  return path.startsWith("/") && !path.startsWith("//") ? path : "/";
}

async function keepSession(pair: { access_token: string; expires_in: number; refresh_token: string; refresh_expires_in: number }) {
  const jar = await cookies();
  const options = { httpOnly: true, sameSite: "lax" as const, secure, path: "/" };
  jar.set(SESSION_COOKIE, pair.access_token, { ...options, maxAge: Math.max(pair.expires_in - 30, 1) });
  jar.set(REFRESH_COOKIE, pair.refresh_token, { ...options, maxAge: pair.refresh_expires_in });
}

async function signInWith(email: string, password: string): Promise<FormState | undefined> {
  const { data, error, response } = await authApi.POST("/v1/auth/login", {
    body: { email, password },
  });
  if (error || !data) {
    const field = response.status === 401 ? "password" : undefined;
    return { error: problemText(error, "signing in failed"), field };
  }
  await keepSession(data);
  const jar = await cookies();
  jar.delete(CART_COOKIE);
  return undefined;
}

export async function signIn(_: FormState, form: FormData): Promise<FormState> {
  const failed = await signInWith(text(form, "email"), text(form, "password"));
  if (failed) return { ...failed, values: entered(form) };
  redirect(local(text(form, "next")));
}

export async function signUp(_: FormState, form: FormData): Promise<FormState> {
  const email = text(form, "email");
  const password = text(form, "password");
  const name = text(form, "name").trim();
  const { error } = await authApi.POST("/v1/auth/register", {
    body: { email, password, name: name || undefined },
  });
  if (error) {
    const detail = problemText(error, "signing up failed");
    const field = detail.startsWith("password") ? "password" : detail.startsWith("email") ? "email" : undefined;
    return { error: detail, field, values: entered(form) };
  }
  const failed = await signInWith(email, password);
  if (failed) return { ...failed, values: entered(form) };
  redirect(local(text(form, "next")));
}

export async function signOut(): Promise<void> {
  const jar = await cookies();
  const refresh = jar.get(REFRESH_COOKIE)?.value;
  if (refresh) {
    await authApi.POST("/v1/auth/logout", { body: { refresh_token: refresh } });
  }
  for (const name of [SESSION_COOKIE, REFRESH_COOKIE, CART_COOKIE]) jar.delete(name);
  redirect("/");
}

/** The visitor's open cart, opened now if there is none. */
async function cart(): Promise<string | FormState> {
  const jar = await cookies();
  const open = jar.get(CART_COOKIE)?.value;
  if (open) return open;
  const { data, error } = await commandApi.POST("/v1/carts", { body: {}, headers: await bearer() });
  if (error || !data) return { error: problemText(error, "no cart could be opened") };
  jar.set(CART_COOKIE, data.cart_id, { httpOnly: true, sameSite: "lax", secure, path: "/" });
  return data.cart_id;
}

export async function addToCart(_: FormState, form: FormData): Promise<FormState> {
  const productId = text(form, "product_id");
  if (!(await sessionToken())) redirect(`/signin?next=/products/${productId}`);
  const quantity = Number(text(form, "quantity") || "1");
  const cartId = await cart();
  if (typeof cartId !== "string") return cartId;
  const { data, error } = await commandApi.POST("/v1/carts/{id}/items", {
    params: { path: { id: cartId } },
    body: { product_id: productId, quantity },
    headers: await bearer(),
  });
  if (error || !data) return { error: problemText(error, "the product could not be added"), field: "quantity" };
  redirect(`/cart?min_version=${data.version}`);
}

export async function changeQuantity(_: FormState, form: FormData): Promise<FormState> {
  const cartId = (await cookies()).get(CART_COOKIE)?.value;
  if (!cartId) redirect("/cart");
  const { data, error } = await commandApi.PUT("/v1/carts/{id}/items/{product_id}", {
    params: { path: { id: cartId, product_id: text(form, "product_id") } },
    body: { quantity: Number(text(form, "quantity")) },
    headers: await bearer(),
  });
  if (error || !data) return { error: problemText(error, "the quantity could not be changed"), field: "quantity" };
  redirect(`/cart?min_version=${data.version}`);
}

export async function checkout(_: FormState, form: FormData): Promise<FormState> {
  const jar = await cookies();
  const cartId = jar.get(CART_COOKIE)?.value;
  if (!cartId) return { error: "your cart is empty" };
  const line2 = text(form, "line2").trim();
  const { data, error } = await commandApi.POST("/v1/carts/{id}/checkout", {
    params: { path: { id: cartId } },
    body: {
      shipping_address: {
        name: text(form, "name"),
        line1: text(form, "line1"),
        line2: line2 || undefined,
        city: text(form, "city"),
        postal_code: text(form, "postal_code"),
        // One of the document's codes (the form offers only those); the API checks it anyway.
        country: text(form, "country") as Country,
      },
      payment_token: text(form, "payment_token"),
    },
    headers: await bearer(),
  });
  if (error || !data) {
    const detail = problemText(error, "the order could not be placed");
    const field = ["name", "line1", "line2", "city", "postal_code", "country", "payment_token"].find((f) =>
      detail.includes(f),
    );
    return { error: detail, field, values: entered(form) };
  }
  jar.delete(CART_COOKIE);
  redirect(`/orders/${data.order_id}`);
}

// ---- A vendor's shop ----

/** "19.99" as minor units (1999), or why not. */
function minorUnits(price: string): number | string {
  const match = /^\s*(\d{1,12})(?:[.,](\d{1,2}))?\s*$/.exec(price);
  if (!match) return "price: write it like 19.99";
  return Number(match[1]) * 100 + Number((match[2] ?? "0").padEnd(2, "0"));
}

type Currency = components["schemas"]["Money"]["currency"];

export async function createProduct(_: FormState, form: FormData): Promise<FormState> {
  const amount = minorUnits(text(form, "price"));
  if (typeof amount === "string") return { error: amount, field: "price", values: entered(form) };
  const description = text(form, "description");
  const { data, error } = await commandApi.POST("/v1/products", {
    body: {
      title: text(form, "title"),
      sku: text(form, "sku"),
      category: text(form, "category"),
      description: description || undefined,
      // One of the document's codes (the form offers only those); the API checks it anyway.
      price: { amount_minor: amount, currency: text(form, "currency") as Currency },
    },
    headers: await bearer(),
  });
  if (error || !data) {
    const detail = problemText(error, "the product could not be created");
    const field = ["title", "sku", "category", "description", "price"].find((f) => detail.startsWith(f));
    return { error: detail, field, values: entered(form) };
  }
  redirect(`/vendor/products/${data.product_id}?min_version=${data.version}`);
}

/** Where a product's page shows a change: after its new version. */
function productPage(id: string, read: { read_with: string; version: number }): string {
  return `/vendor/products/${id}?${read.read_with}=${read.version}`;
}

export async function changePrice(_: FormState, form: FormData): Promise<FormState> {
  const id = text(form, "product_id");
  const amount = minorUnits(text(form, "price"));
  if (typeof amount === "string") return { error: amount, field: "price", values: entered(form) };
  const { data, error } = await commandApi.PUT("/v1/products/{id}/price", {
    params: { path: { id } },
    body: { price: { amount_minor: amount, currency: text(form, "currency") as Currency } },
    headers: await bearer(),
  });
  if (error || !data) return { error: problemText(error, "the price could not be changed"), field: "price", values: entered(form) };
  redirect(productPage(id, data));
}

export async function setPublished(_: FormState, form: FormData): Promise<FormState> {
  const id = text(form, "product_id");
  const options = { params: { path: { id } }, headers: await bearer() };
  const { data, error } =
    text(form, "publish") === "true"
      ? await commandApi.POST("/v1/products/{id}/publish", options)
      : await commandApi.POST("/v1/products/{id}/unpublish", options);
  if (error || !data) return { error: problemText(error, "the product could not be changed") };
  redirect(productPage(id, data));
}

export async function receiveStock(_: FormState, form: FormData): Promise<FormState> {
  const id = text(form, "product_id");
  const { data, error } = await commandApi.POST("/v1/inventory/{product_id}/receipts", {
    params: { path: { product_id: id } },
    body: { quantity: Number(text(form, "quantity")) },
    headers: await bearer(),
  });
  if (error || !data) return { error: problemText(error, "the stock could not be received"), field: "quantity", values: entered(form) };
  redirect(productPage(id, data));
}

export async function ship(_: FormState, form: FormData): Promise<FormState> {
  const id = text(form, "order_id");
  const { data, error } = await commandApi.POST("/v1/orders/{id}/ship", {
    params: { path: { id } },
    body: { tracking: text(form, "tracking") },
    headers: await bearer(),
  });
  if (error || !data) return { error: problemText(error, "the order could not be shipped"), field: "tracking", values: entered(form) };
  redirect(`/vendor?shipped=${id}&min_version=${data.version}`);
}

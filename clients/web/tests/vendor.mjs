// A vendor runs its shop in a real browser (Debian's chromium through playwright-core): signs in,
// creates a product, receives stock and publishes it; a shopper finds it by search and buys it;
// the vendor ships the order and the shopper sees it shipped without reloading.
// Run by clients/cli/tests/system/web_storefront.rs with:
//   WEB_URL, EMAIL, PASSWORD (the vendor member's), SHOPPER_EMAIL, WORD, ARTIFACTS
import { Accessibility, launch } from "./browser.mjs";
import assert from "node:assert/strict";

const { WEB_URL, EMAIL, PASSWORD, SHOPPER_EMAIL, WORD, ARTIFACTS } = process.env;
const browser = await launch();
const axe = new Accessibility();
const findings = axe.findings;
const accessible = (page, name) => axe.scan(page, name);
const title = `Linen apron ${WORD}`;
const vendor = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
const shopper = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
try {
  await vendor.goto(`${WEB_URL}/signin?next=/vendor`);
  await vendor.getByLabel("Email").fill(EMAIL);
  await vendor.getByLabel("Password").fill(PASSWORD);
  await vendor.getByRole("button", { name: "Sign in" }).click();
  await vendor.getByRole("heading", { name: "Your shop" }).waitFor();
  await accessible(vendor, "shop");

  await vendor.getByRole("link", { name: "New product" }).click();
  await vendor.getByLabel("Title").fill(title);
  await vendor.getByLabel("SKU").fill(`APRON-${WORD}`);
  await vendor.getByLabel("Category (e.g. kitchen)").fill("kitchen");
  await vendor.getByLabel("Description").fill("Stonewashed linen, one size.");
  // A price that is not one is refused next to its field, and the entries stay.
  await vendor.getByLabel("Price (e.g. 19.99)").fill("cheap");
  await vendor.getByRole("button", { name: "Create product" }).click();
  await vendor.getByRole("alert").filter({ hasText: "like 19.99" }).waitFor();
  assert.equal(await vendor.getByLabel("Title").inputValue(), title);
  await vendor.getByLabel("Price (e.g. 19.99)").fill("24.90");
  await accessible(vendor, "new product");
  await vendor.getByRole("button", { name: "Create product" }).click();
  await vendor.getByRole("heading", { name: title }).waitFor();
  assert.equal(await vendor.getByTestId("published").innerText(), "Not published");

  await vendor.getByLabel("Units received").fill("6");
  await vendor.getByRole("button", { name: "Receive stock" }).click();
  await vendor.getByTestId("available").filter({ hasText: "6 in stock" }).waitFor();
  await vendor.getByRole("button", { name: "Publish" }).click();
  await vendor.getByTestId("published").filter({ hasText: /^Published$/ }).waitFor();
  await accessible(vendor, "product");
  await vendor.screenshot({ path: `${ARTIFACTS}/web-vendor-product.png`, fullPage: true });

  // A shopper finds it by search and buys it.
  await shopper.goto(`${WEB_URL}/?q=${encodeURIComponent(WORD)}`);
  await shopper.getByRole("link", { name: title }).click();
  assert.ok((await shopper.locator("main").innerText()).includes("24.90 EUR"));
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await shopper.getByRole("link", { name: "Create an account" }).click();
  await shopper.getByRole("heading", { name: "Create an account" }).waitFor();
  await shopper.waitForLoadState("networkidle");
  await shopper.getByLabel("Email").fill(SHOPPER_EMAIL);
  await shopper.getByLabel("Password (at least 8 characters)").fill("correct horse battery staple");
  await shopper.getByRole("button", { name: "Create account" }).click();
  await shopper.getByRole("heading", { name: title }).waitFor();
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await shopper.waitForURL(/\/cart/);
  await shopper.goto(`${WEB_URL}/checkout`);
  await shopper.getByLabel("Name").fill("Grace Hopper");
  await shopper.getByLabel("Street and number").fill("Main Street 1");
  await shopper.getByLabel("Postal code").fill("10001");
  await shopper.getByLabel("City").fill("New York");
  await shopper.getByLabel("Country").selectOption("US");
  await shopper.getByRole("button", { name: "Place order" }).click();
  await shopper.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
  const orderId = shopper.url().split("/").at(-1);
  await shopper.waitForFunction(() => document.querySelector('[data-testid="order-status"]')?.textContent === "confirmed", null, { timeout: 15000 });

  // The vendor ships it; the shopper's page turns to shipped by itself.
  for (let attempt = 0; ; attempt++) {
    await vendor.goto(`${WEB_URL}/vendor`);
    if (await vendor.getByRole("form", { name: `Ship order ${orderId}` }).count()) break;
    assert.ok(attempt < 50, "the order reaches the vendor's orders to ship");
    await vendor.waitForTimeout(200);
  }
  const form = vendor.getByRole("form", { name: `Ship order ${orderId}` });
  await form.getByLabel("Tracking number").fill("1Z 999 AA1");
  await form.getByRole("button", { name: "Ship" }).click();
  await vendor.waitForURL(/shipped=/);
  await shopper.waitForFunction(() => document.querySelector('[data-testid="order-status"]')?.textContent === "shipped", null, { timeout: 15000 });
  await vendor.screenshot({ path: `${ARTIFACTS}/web-vendor-shop.png`, fullPage: true });
  await shopper.screenshot({ path: `${ARTIFACTS}/web-shopper-shipped.png`, fullPage: true });
  assert.deepEqual(findings, [], "no serious or critical accessibility violation");
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  await vendor.screenshot({ path: `${ARTIFACTS}/web-vendor-failure.png`, fullPage: true }).catch(() => {});
  await shopper.screenshot({ path: `${ARTIFACTS}/web-shopper-failure.png`, fullPage: true }).catch(() => {});
  throw error;
} finally {
  await browser.close();
}

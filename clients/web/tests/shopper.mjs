// A shopper in a real browser (Debian's chromium through playwright-core): signs up, adds two
// products, changes a quantity, checks out with tok_ok and watches the order become confirmed
// without reloading; then checks out with tok_decline and sees it cancelled, and why. On a phone
// profile when PROFILE=phone. Run by clients/cli/tests/system/web_storefront.rs with:
//   WEB_URL, PRODUCTS (JSON [{id, title}]), EMAIL, ARTIFACTS, PROFILE
import { devices } from "playwright-core";
import { Accessibility, launch } from "./browser.mjs";
import assert from "node:assert/strict";

const { WEB_URL, PRODUCTS, EMAIL, ARTIFACTS, PROFILE = "laptop" } = process.env;
const products = JSON.parse(PRODUCTS);
const browser = await launch();
const axe = new Accessibility();
const findings = axe.findings;

const accessible = (page, name) => axe.scan(page, name);

const shot = (page, name) => page.screenshot({ path: `${ARTIFACTS}/web-${PROFILE}-${name}.png`, fullPage: true });

async function addToCart(page, product) {
  await page.goto(`${WEB_URL}/products/${product.id}`);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.waitForURL(/\/cart/);
  await page.getByRole("link", { name: product.title }).waitFor();
}

async function checkout(page, card) {
  await page.goto(`${WEB_URL}/checkout`);
  await accessible(page, "checkout");
  await page.getByLabel("Name").fill("Ada Lovelace");
  await page.getByLabel("Street and number").fill("Unter den Linden 1");
  await page.getByLabel("Postal code").fill("10117");
  await page.getByLabel("City").fill("Berlin");
  await page.getByLabel("Country").selectOption("DE");
  await page.getByLabel("Card").selectOption(card);
  await shot(page, `checkout-${card}`);
  await page.getByRole("button", { name: "Place order" }).click();
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
}

const context = await browser.newContext(
  PROFILE === "phone"
    ? { ...devices["iPhone 12"], viewport: { width: 375, height: 812 } }
    : { viewport: { width: 1280, height: 800 } },
);
const page = await context.newPage();
try {
  // Sign up: a too-short password is refused next to its field, then a good one is taken.
  await page.goto(`${WEB_URL}/signup`);
  await page.getByLabel("Name").fill("Ada Lovelace");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password (at least 8 characters)").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  // The browser's own check does not block it: the field has no minlength, the API says why.
  const refusal = page.locator('[id^="field-password-"][id$="-error"]');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /at least 8/);
  await page.getByLabel("Password (at least 8 characters)").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: /Sign out/ }).waitFor();

  // Two products; the second one twice, then back to one.
  await addToCart(page, products[0]);
  await addToCart(page, products[1]);
  await accessible(page, "cart");
  const second = page.getByRole("form", { name: `Quantity of ${products[1].title}` });
  await second.getByLabel("Quantity").fill("2");
  await second.getByRole("button", { name: "Update" }).click();
  await page.waitForURL(/min_version=4/);
  await shot(page, "cart");

  await checkout(page, "tok_ok");
  const status = page.getByTestId("order-status");
  await page.waitForFunction(() => document.querySelector('[data-testid="order-status"]')?.textContent === "confirmed", null, { timeout: 15000 });
  assert.equal(await status.innerText(), "confirmed");
  await shot(page, "order-confirmed");

  // A declined card: cancelled, and the reason.
  await addToCart(page, products[0]);
  await checkout(page, "tok_decline");
  await page.getByTestId("cancel-reason").waitFor({ timeout: 15000 });
  assert.equal(await page.getByTestId("order-status").innerText(), "cancelled");
  assert.match(await page.getByTestId("cancel-reason").innerText(), /declined/);
  await shot(page, "order-cancelled");

  // Both in the order history.
  await page.goto(`${WEB_URL}/orders`);
  assert.equal(await page.locator("ul.lines li").count(), 2);

  // The tokens are out of scripts' reach; when the access token has expired (its cookie gone),
  // the next page trades the refresh token for a new pair and the shopper stays signed in.
  const session = (await context.cookies()).find((cookie) => cookie.name === "commerce_session");
  assert.ok(session?.httpOnly && session.sameSite === "Lax", JSON.stringify(session));
  assert.ok(!(await page.evaluate(() => document.cookie)).includes("commerce_"), "no token in document.cookie");
  await context.clearCookies({ name: "commerce_session" });
  await page.goto(`${WEB_URL}/orders`);
  await page.getByRole("heading", { name: "Your orders" }).waitFor();
  assert.equal(await page.locator("ul.lines li").count(), 2);
  const renewed = (await context.cookies()).find((cookie) => cookie.name === "commerce_session");
  assert.ok(renewed && renewed.value !== session.value, "a new access token");
  if (PROFILE === "phone") {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `no horizontal scrolling at 375 px (content is ${width} px wide)`);
  }
  assert.deepEqual(findings, [], "no serious or critical accessibility violation");
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  await shot(page, "failure").catch(() => {});
  throw error;
} finally {
  await browser.close();
}

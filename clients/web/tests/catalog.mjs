// The catalog and a product page in a real browser (Debian's chromium through playwright-core):
// a shopper searches, opens the product and sees its price and stock; the same at 375 px on a
// touch phone; an accessibility scan (axe-core) of both pages finds nothing serious or critical.
// Screenshots land in ARTIFACTS. Run by clients/cli/tests/system/web_storefront.rs with:
//   WEB_URL, PRODUCT_TITLE, PRODUCT_PRICE, ARTIFACTS
import { devices } from "playwright-core";
import { Accessibility, launch } from "./browser.mjs";
import assert from "node:assert/strict";

const { WEB_URL, PRODUCT_TITLE, PRODUCT_PRICE, ARTIFACTS } = process.env;
const browser = await launch();
const axe = new Accessibility();
const findings = axe.findings;

const accessible = (page, name) => axe.scan(page, name);

async function shop(context, name) {
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(WEB_URL, { waitUntil: "load" });
  await page.getByRole("heading", { name: "Catalog" }).waitFor();
  await accessible(page, `${name} catalog`);
  // A word of the title finds it.
  const word = PRODUCT_TITLE.split(" ").at(-1);
  await page.getByRole("searchbox").fill(word);
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL((url) => url.searchParams.get("q") === word);
  const link = page.getByRole("link", { name: PRODUCT_TITLE });
  await link.waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/web-${name}-catalog.png`, fullPage: true });
  await link.click();
  await page.getByRole("heading", { name: PRODUCT_TITLE }).waitFor();
  const text = await page.locator("main").innerText();
  assert.ok(text.includes(PRODUCT_PRICE), `the price ${PRODUCT_PRICE} in: ${text}`);
  assert.match(await page.getByTestId("stock").innerText(), /\d+ in stock/);
  await accessible(page, `${name} product`);
  await page.screenshot({ path: `${ARTIFACTS}/web-${name}-product.png`, fullPage: true });
  if (name === "phone") {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `no horizontal scrolling at 375 px (content is ${width} px wide)`);
    // Installable: a manifest with the icons a phone asks for, and a service worker.
    const manifest = await (await page.request.get(`${WEB_URL}/manifest.webmanifest`)).json();
    assert.equal(manifest.display, "standalone");
    const sizes = manifest.icons.map((icon) => icon.sizes);
    assert.ok(sizes.includes("192x192") && sizes.includes("512x512"), JSON.stringify(manifest.icons));
    for (const icon of manifest.icons) {
      assert.equal((await page.request.get(`${WEB_URL}${icon.src}`)).status(), 200, icon.src);
    }
    const state = await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state);
    assert.equal(state, "activated");
    // The catalog once more while online (the worker keeps it), then offline: still there.
    await page.goto(`${WEB_URL}/?q=${encodeURIComponent(word)}`);
    await page.getByRole("link", { name: PRODUCT_TITLE }).waitFor();
    await context.setOffline(true);
    await page.goto(`${WEB_URL}/?q=${encodeURIComponent(word)}`);
    await page.getByRole("link", { name: PRODUCT_TITLE }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/web-${name}-offline.png`, fullPage: true });
    await context.setOffline(false);
  }
  return Date.now() - started;
}

try {
  const laptop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await shop(laptop, "laptop");
  const phone = await browser.newContext({ ...devices["iPhone 12"], viewport: { width: 375, height: 812 } });
  await shop(phone, "phone");
  assert.deepEqual(findings, [], "no serious or critical accessibility violation");
  console.log(JSON.stringify({ ok: true }));
} finally {
  await browser.close();
}

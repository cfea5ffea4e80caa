// Drives a real browser (Debian's chromium, through puppeteer-core pinned in infra/local) through
// the vendor dashboard page: signs in with a token typed into the page's form, then reads what the
// charts and tables show and keeps a screenshot. Prints what it saw as one JSON object.
//
// Environment: DASHBOARD_URL (the page, with its range), TOKEN, CHROMIUM (the browser),
// NODE_MODULES (infra/local/node_modules), SCREENSHOT (where the PNG goes).
"use strict";
const path = require("path");
const puppeteer = require(path.join(process.env.NODE_MODULES, "puppeteer-core"));

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    // Root in a container has no user namespace for the sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 1400 });
    await page.goto(process.env.DASHBOARD_URL, { waitUntil: "load" });
    await page.type("input[name=token]", process.env.TOKEN);
    await Promise.all([
      page.waitForNavigation({ waitUntil: "load" }),
      page.click("form[action='/vendor/session'] button[type=submit]"),
    ]);
    await page.goto(process.env.DASHBOARD_URL, { waitUntil: "load" });
    const seen = await page.evaluate(() => {
      const chart = (id) =>
        Array.from(document.querySelectorAll(`#${id} rect.bar`)).map((bar) => ({
          day: bar.dataset.day,
          value: Number(bar.dataset.value),
          height: Number(bar.getAttribute("height")),
        }));
      const rows = (id) =>
        Array.from(document.querySelectorAll(`#${id} tbody tr[data-product-id]`)).map((tr) => ({
          product_id: tr.dataset.productId,
          cells: Array.from(tr.cells).map((td) => td.textContent),
        }));
      const figure = (id) => document.querySelector(`#${id} b`)?.textContent ?? null;
      return {
        title: document.title,
        vendor: document.querySelector("#vendor-id")?.textContent ?? null,
        revenue: figure("revenue"),
        orders: figure("orders"),
        units: figure("units"),
        charts: {
          revenue: chart("revenue-chart"),
          orders: chart("orders-chart"),
          units: chart("units-chart"),
        },
        top_products: rows("top-products"),
        stock_alerts: rows("stock-alerts"),
        cookies_scripts_see: document.cookie,
      };
    });
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    process.stdout.write(JSON.stringify(seen));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

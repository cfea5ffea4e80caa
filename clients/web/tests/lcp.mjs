// The largest contentful paint of the catalog and a product page in headless Chromium (Debian's,
// through playwright-core): each page loaded 5 times in a fresh context (nothing cached), the
// median printed as JSON. For BENCHMARKS.md:
//   WEB_URL=http://127.0.0.1:3000 PRODUCT=<id> CHROMIUM=/usr/bin/chromium node tests/lcp.mjs
import { chromium } from "playwright-core";

const { WEB_URL = "http://127.0.0.1:3000", PRODUCT, CHROMIUM = "/usr/bin/chromium" } = process.env;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });

async function lcp(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(url, { waitUntil: "load" });
  const value = await page.evaluate(
    () =>
      new Promise((resolve) => {
        new PerformanceObserver((list) => {
          const entries = list.getEntries();
          resolve(entries[entries.length - 1].startTime);
        }).observe({ type: "largest-contentful-paint", buffered: true });
      }),
  );
  await context.close();
  return value;
}

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const report = {};
for (const [name, path] of [["catalog", "/"], ["product", `/products/${PRODUCT}`]]) {
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(await lcp(`${WEB_URL}${path}`));
  report[`${name}_lcp_ms`] = Math.round(median(runs));
  report[`${name}_runs_ms`] = runs.map(Math.round);
}
await browser.close();
console.log(JSON.stringify(report, null, 2));

// What the browser tests share: Debian's chromium through playwright-core, and an axe-core scan
// that keeps every serious or critical violation it finds.
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** Scans pages; `findings` lists what must not be there. */
export class Accessibility {
  findings = [];

  async scan(page, name) {
    const results = await new AxeBuilder({ page }).analyze();
    for (const violation of results.violations) {
      if (violation.impact === "serious" || violation.impact === "critical") {
        this.findings.push(`${name}: ${violation.id} (${violation.impact}): ${violation.help}`);
      }
    }
  }
}

/**
 * Debian's chromium driven headless by playwright-core, for the tests of the HTML report. The
 * browser is the system's (/usr/bin/chromium, which CI installs): playwright's own downloads are
 * never used. Every page opened here has its network requests refused and recorded, so a test can
 * assert that a page fetched nothing.
 */
import { accessSync, constants } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Without the background-networking flags, chromium reaches out at start (component updates,
 * sync, QUIC probes), which a closed network refuses slowly; the tests need none of it.
 */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether the system chromium is there (the `present` of requireUnderCi). */
export function chromiumPresent(): boolean {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A page of `file` (opened as a file:// URL), and the URLs of every request other than the file itself. */
export interface OfflinePage {
  page: Page;
  /** Requests the page attempted (each refused): images, scripts, styles, fetches, anything. */
  attempted: string[];
  /** Errors the page's script threw, and console errors. */
  pageErrors: string[];
}

/** Opens `file` in a new page of `browser` with every other request aborted and recorded, and waits until the page says it is drawn. */
export async function openOffline(browser: Browser, file: string, viewport = { width: 1440, height: 900 }): Promise<OfflinePage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const url = pathToFileURL(file).href;
  const attempted: string[] = [];
  const pageErrors: string[] = [];
  await context.route("**/*", async (route) => {
    const requested = route.request().url();
    if (requested === url) return route.continue();
    attempted.push(requested);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") pageErrors.push(msg.text());
  });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("html[data-ready='1']", { timeout: 60_000 });
  return { page, attempted, pageErrors };
}

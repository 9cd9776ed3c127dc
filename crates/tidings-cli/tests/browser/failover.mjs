// The demo page through a load balancer, in a real Chromium, while the node serving
// it is killed. Run by tests/browser.rs:
//
//   node failover.mjs URL SCREENSHOT.png CHROMIUM
//
// Opens the page, waits for ticks and a chat message, prints "ready" and waits for
// a line on stdin (the test kills the node and publishes a chat message meanwhile,
// "said while away"). Then the page's EventSource and WebSocket must reconnect
// through the balancer to another node: the ticker resumes with no gap and no
// duplicate (the page checks every id), the chat resumes with its token and shows
// what was said while away. Prints one JSON object; exits non-zero, saying why,
// when a check fails. Every wait is bounded.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const [url, screenshot, executablePath] = process.argv.slice(2);
const WAIT = 30_000;
const errors = [];

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking"],
});
let page;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() =>
    document.getElementById("ws-state").textContent === "open" &&
    document.getElementById("sse-state").textContent === "open");
  await page.fill("#chat-input", "before the failover");
  await page.click("#chat-send");
  await page.waitForFunction(() => document.getElementById("chat-log").textContent.includes("me: before the failover"));
  await page.waitForFunction(() => document.querySelectorAll("#ticker-list > li").length >= 3);

  console.log("ready");
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no word from the test")), WAIT);
    lines.once("line", () => { clearTimeout(timer); resolve(); });
  });
  lines.close();
  const before = await page.$$eval("#ticker-list > li", (items) => items.length);

  await page.waitForFunction(() => Number(document.getElementById("sse-reconnections").textContent) >= 1);
  await page.waitForFunction((n) => document.querySelectorAll("#ticker-list > li").length >= n + 5, before);
  await page.waitForFunction(() => document.getElementById("sse-resumes").textContent.includes("reconnection 1"));
  await page.waitForFunction(() => Number(document.getElementById("ws-reconnections").textContent) >= 1);
  await page.waitForFunction(() => document.getElementById("chat-log").textContent.includes("said while away"));

  const integrity = await page.$eval("#sse-integrity", (e) => ({ ...e.dataset, text: e.textContent }));
  const resumes = await page.$eval("#sse-resumes", (e) => e.textContent);
  const chat = await page.$$eval("#chat-log > div", (d) => d.map((x) => x.textContent));
  const result = {
    ticks: await page.$$eval("#ticker-list > li", (items) => items.length),
    last_id: await page.$eval("#sse-last-id", (e) => e.textContent),
    resumes,
    gaps: Number(integrity.gaps),
    duplicates: Number(integrity.duplicates),
    discontinuities: Number(integrity.discontinuities ?? 0),
    chat,
    errors,
  };
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify(result));
  check(result.gaps === 0 && result.duplicates === 0, `no gap and no duplicate (${integrity.text})`);
  check(result.discontinuities === 0, "no discontinuity");
  check(resumes.includes("✓") && !resumes.includes("✗"), `the resumption continues at the next id (${resumes})`);
  check(chat.filter((line) => line.endsWith("said while away")).length === 1, `the chat resumed once (${chat})`);
  check(errors.length === 0, `no page errors (${errors.join("; ")})`);
} catch (e) {
  if (page) await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  console.error(String(e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}

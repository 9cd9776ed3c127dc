// Drives a real Chromium through the `tidings demo` page as a person would, and checks
// what the page itself reports. Run by tests/browser.rs:
//
//   node demo.mjs URL SCREENSHOT.png CHROMIUM
//
// Prints one JSON object with what the page measured; exits non-zero, saying why, when
// a check fails. Every wait is bounded.
import { chromium } from "playwright-core";

const [url, screenshot, executablePath] = process.argv.slice(2);
const WAIT = 30_000;
const errors = [];

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function open(browser, name) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (e) => errors.push(`${name}: ${e}`));
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${name}: ${m.text()}`); });
  page.on("requestfailed", (r) => {
    // The dropped stream is the one failure the test asks for.
    if (!r.url().endsWith("/events")) errors.push(`${name}: ${r.url()} ${r.failure()?.errorText}`);
  });
  await page.goto(url);
  await page.waitForFunction(() =>
    document.getElementById("ws-state").textContent === "open" &&
    document.getElementById("sse-state").textContent === "open");
  return page;
}

const text = (page, id) => page.$eval(`#${id}`, (e) => e.textContent);
const ticks = (page) => page.$$eval("#ticker-list > li", (items) => items.length);

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking"],
});
let page;
try {
  // Two pages chat through the server: each reads the other's words and its own echo.
  page = await open(browser, "a");
  const other = await open(browser, "b");
  for (const [from, to, words] of [[page, other, "hello from a"], [other, page, "hello from b"]]) {
    await from.fill("#chat-input", words);
    await from.click("#chat-send");
    await from.waitForFunction((w) => document.getElementById("chat-log").textContent.includes(`me: ${w}`), words);
    await to.waitForFunction((w) => [...document.querySelectorAll("#chat-log > div")]
      .some((d) => d.textContent.endsWith(`: ${w}`) && !d.textContent.startsWith("me:")), words);
  }
  await page.click("#chat-burst");
  await page.waitForFunction(() => document.getElementById("chat-log").textContent.includes("me: burst 100/100"));
  await other.close();

  // The ticker runs; the server drops the stream; the browser's own EventSource comes
  // back with Last-Event-ID and the page checks every id it sees.
  await page.waitForFunction(() => document.querySelectorAll("#ticker-list > li").length >= 3);
  const before = await ticks(page);
  const drop = page.waitForResponse((r) => r.url().endsWith("/drop"));
  await page.click("#drop-button");
  check((await drop).status() === 200, "POST /drop answers 200");
  await page.waitForFunction(() => Number(document.getElementById("sse-reconnections").textContent) >= 1);
  await page.waitForFunction((n) => document.querySelectorAll("#ticker-list > li").length >= n + 3, before);
  await page.waitForFunction(() => document.getElementById("sse-resumes").textContent.includes("✓"));

  // The table fills in once a second.
  const filled = ["ws-latency", "ws-bytes", "sse-latency", "sse-bytes"];
  await page.waitForFunction((ids) => ids.every((id) => document.getElementById(id).textContent !== "–"), filled);

  const integrity = await page.$eval("#sse-integrity", (e) => ({ ...e.dataset, text: e.textContent }));
  const resumes = await text(page, "sse-resumes");
  const result = {
    chat_lines: await page.$$eval("#chat-log > div", (d) => d.length),
    ticks_before_drop: before,
    ticks: await ticks(page),
    reconnections: Number(await text(page, "sse-reconnections")),
    extensions: await text(page, "ws-extensions"),
    resumes,
    gaps: Number(integrity.gaps),
    duplicates: Number(integrity.duplicates),
    table: Object.fromEntries(await Promise.all(
      [...filled, "ws-rate", "sse-rate", "ws-reconnections", "sse-reconnections-cell"]
        .map(async (id) => [id, await text(page, id)]))),
    errors,
  };
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify(result));
  check(result.gaps === 0 && result.duplicates === 0, `no gap and no duplicate (${integrity.text})`);
  check(!resumes.includes("✗"), `every resumption continues at the next id (${resumes})`);
  check(Object.values(result.table).every((v) => /^[0-9.]+$/.test(v)), "the table is filled with numbers");
  check(Number(result.table["ws-latency"]) > 0 && Number(result.table["sse-bytes"]) > 0, "measurements are positive");
  check(errors.length === 0, `no page errors (${errors.join("; ")})`);
  check(result.extensions.startsWith("permessage-deflate"), `Chromium negotiated compression (${result.extensions})`);
} catch (e) {
  if (page) await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  console.error(String(e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}

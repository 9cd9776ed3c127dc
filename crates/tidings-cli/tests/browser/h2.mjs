// Chromium against `tidings demo --tls` (run by tests/browser.rs): one page opens 20
// EventSources and a WebSocket; over HTTP/2 they all share the page's connection
// (the WebSocket by RFC 8441 extended CONNECT). Prints one JSON object with what
// the page saw: each request's nextHopProtocol, the events per stream, the chat's
// echo, and the protocol the page itself shows.
//
// Given an http:// URL (the demo without --tls, HTTP/1.1), it waits 3 s instead of
// waiting for every stream: only six connections per origin, so most of the 20
// streams never open.
//
//   node h2.mjs URL CHROMIUM
import { chromium } from "playwright-core";

const [url, executablePath] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--ignore-certificate-errors"],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  const h1 = url.startsWith("http:");
  const seen = await page.evaluate(async (h1) => {
    const STREAMS = 20;
    const counts = new Array(STREAMS).fill(0);
    const sources = [];
    const every = new Promise((resolve) => {
      for (let i = 0; i < STREAMS; i++) {
        const source = new EventSource(`/events?n=${i}`);
        source.onmessage = () => {
          counts[i]++;
          if (counts.every((c) => c >= 3)) resolve();
        };
        sources.push(source);
      }
    });
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    const text = JSON.stringify({ from: "chromium", seq: 1, text: "over h2" });
    const echoed = new Promise((resolve, reject) => {
      ws.onopen = () => ws.send(text);
      // The demo relays the member's JSON with its position added as "id".
      ws.onmessage = (m) => {
        const got = JSON.parse(m.data);
        if (got.from === "chromium" && got.seq === 1 && got.text === "over h2") resolve(true);
      };
      ws.onerror = () => reject(new Error("WebSocket error"));
    });
    const settle = new Promise((resolve) => setTimeout(() => resolve(false), 3000));
    const done = h1 ? Promise.race([echoed, settle]).then(() => settle) : Promise.all([every, echoed]);
    await done;
    const chatted = await Promise.race([echoed, settle]);
    ws.close(1000);
    sources.forEach((s) => s.close());
    const entries = [...performance.getEntriesByType("navigation"),
      ...performance.getEntriesByType("resource")];
    return {
      counts,
      echoed: chatted,
      shown: document.getElementById("protocol").textContent,
      protocols: entries.map((e) => [e.name, e.nextHopProtocol]),
    };
  }, h1);
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}

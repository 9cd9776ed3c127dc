// Chromium against `tidings demo --tls` (run by tests/browser.rs): one page opens 20
// EventSources and a WebSocket; over HTTP/2 they all share the page's connection
// (the WebSocket by RFC 8441 extended CONNECT). Prints one JSON object with what
// the page saw: each request's nextHopProtocol, the events per stream, the chat's
// echo.
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
  const seen = await page.evaluate(async () => {
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
    const ws = new WebSocket(`wss://${location.host}/ws`);
    const text = JSON.stringify({ from: "chromium", seq: 1, text: "over h2" });
    const echoed = new Promise((resolve, reject) => {
      ws.onopen = () => ws.send(text);
      ws.onmessage = (m) => { if (m.data === text) resolve(true); };
      ws.onerror = () => reject(new Error("WebSocket error"));
    });
    await Promise.all([every, echoed]);
    ws.close(1000);
    sources.forEach((s) => s.close());
    const entries = [...performance.getEntriesByType("navigation"),
      ...performance.getEntriesByType("resource")];
    return {
      counts,
      echoed: await echoed,
      protocols: entries.map((e) => [e.name, e.nextHopProtocol]),
    };
  });
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}

// npm `eventsource` (the WHATWG EventSource for Node) against our SSE server.
//
//   node sse_client.mjs URL N
//
// Reads events 1..N across the server's forced drop (it cuts the first connection in
// the middle of event 6); the browser algorithm must drop the half event, reconnect
// after the server's `retry` and send Last-Event-ID, so the ids arrive once each, in
// order. The server answers the reconnection after the last event with 204, which
// must close the EventSource. Prints PASS/FAIL lines like ws_peer.mjs.
import { EventSource } from 'eventsource';
import { CASE_TIMEOUT_MS, sseData, sseType } from './common.mjs';

const [url, n] = [process.argv[2], Number(process.argv[3])];
const seen = [];
let errors = 0;
const es = new EventSource(url);
const record = (ev) => seen.push([ev.lastEventId, ev.type, ev.data]);
es.addEventListener('message', record);
es.addEventListener('tick', record);
es.onerror = () => { errors += 1; };

const ended = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve(false), CASE_TIMEOUT_MS);
  const poll = setInterval(() => {
    if (es.readyState === EventSource.CLOSED) {
      clearTimeout(timer);
      clearInterval(poll);
      resolve(true);
    }
  }, 20);
});
es.close();

const expected = Array.from({ length: n }, (_, i) => [String(i + 1), sseType(i + 1), sseData(i + 1)]);
const rows = [
  ['stream ends on 204', ended, `readyState ${es.readyState}`],
  ['reconnected after the drop', errors >= 2, `${errors} error event(s)`],
  ['events 1..N, no gap, no duplicate', JSON.stringify(seen) === JSON.stringify(expected),
    `got ids ${JSON.stringify(seen.map(([id]) => id))}; first difference (got, expected): ${
      JSON.stringify(seen.map((e, i) => [e, expected[i]]).find(([a, b]) => JSON.stringify(a) !== JSON.stringify(b)))}`],
];
for (const [name, pass, why] of rows) console.log(pass ? `PASS ${name}` : `FAIL ${name}: ${why}`);
process.exit(rows.every(([, pass]) => pass) ? 0 : 1);

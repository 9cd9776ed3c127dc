// A plain Node `http` SSE server for our EventSource client.
//
//   node sse_server.mjs N        prints its URL, serves until killed
//
// Events 1..N with ids, `retry: 200`, chunked (Node's default for a body of unknown
// length). A first connection (no Last-Event-ID) is cut after event 5, in the middle
// of event 6; a reconnection resumes after its Last-Event-ID; one that already has N
// gets 204, which ends an EventSource.
//
// The stream is made awkward on purpose, all within the WHATWG grammar: its type
// carries a charset parameter, it starts with a byte order mark and a comment, its
// lines end in CRLF, CR or LF depending on the event, and every event is written as
// two chunks cut at its middle byte (so inside a CRLF or inside a UTF-8 character,
// sometimes).
import http from 'node:http';
import { sseData, sseType } from './common.mjs';

const N = Number(process.argv[2] ?? 20);
const DROP_AFTER = 5;

const server = http.createServer((req, res) => {
  const header = req.headers['last-event-id'];
  const last = header === undefined ? null : Number(header);
  console.error(`sse_server: ${req.method} ${req.url}, Last-Event-ID ${header}`);
  if (req.url !== '/events' || (last !== null && !Number.isInteger(last))) {
    res.writeHead(400).end();
    return;
  }
  if (last === N) {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' });
  res.write('\uFEFF: tidings interop\r\nretry: 200\n\n');
  const end = last === null ? DROP_AFTER : N;
  for (let id = (last ?? 0) + 1; id <= end; id++) {
    const eol = id % 2 === 0 ? '\r\n' : id % 3 === 0 ? '\r' : '\n';
    const type = sseType(id) === 'message' ? [] : [`event: ${sseType(id)}`];
    const lines = [`id: ${id}`, ...type, ...sseData(id).split('\n').map((l) => `data: ${l}`), ''];
    const event = Buffer.from(lines.map((l) => l + eol).join(''));
    const middle = event.length >> 1;
    res.write(event.subarray(0, middle));
    res.write(event.subarray(middle));
  }
  if (last === null) {
    // The forced drop: half an event, then the socket goes away.
    res.write(`id: ${end + 1}\ndata: partial`, () => req.socket.destroy());
  } else {
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}/events`));

// Node's own HTTP/2 client against the tidings server (run by tests/http2.rs):
// WebSockets by RFC 8441 extended CONNECT (the client sends `:protocol`, which
// Node allows once the server's SETTINGS carry ENABLE_CONNECT_PROTOCOL), frames
// written and read here, and an event stream, all on one HTTP/2 session.
// Prints `ok <case>` per case; exits non-zero on the first failure.
//
//   node http2_peer.mjs http://127.0.0.1:PORT
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';

const base = process.argv[2];
const session = http2.connect(base);
session.on('error', (e) => { console.error(e); process.exit(1); });
setTimeout(() => { console.error('timed out'); process.exit(1); }, 15000).unref();

await new Promise((resolve, reject) => {
  session.once('remoteSettings', (settings) =>
    settings.enableConnectProtocol ? resolve() : reject(new Error('no ENABLE_CONNECT_PROTOCOL')));
});

// A client frame: FIN+opcode in `first`, masked with a random key (RFC 6455 §5.3).
function frame(first, payload) {
  payload = Buffer.from(payload);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([first, 0x80 | n])
    : n < 65536 ? Buffer.from([first, 0x80 | 126, n >> 8, n & 0xff])
    : Buffer.concat([Buffer.from([first, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([head, key, masked]);
}

// Opens a WebSocket stream; gives `send(first, payload)`, `next()` (the next
// server frame, or null at the end of the stream).
async function open() {
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': '/ws',
    ':authority': new URL(base).host,
    'sec-websocket-version': '13',
  });
  const status = await new Promise((resolve) => stream.once('response', (h) => resolve(h[':status'])));
  assert.equal(status, 200);
  let buffered = Buffer.alloc(0);
  let ended = false;
  let wake = () => {};
  stream.on('data', (chunk) => { buffered = Buffer.concat([buffered, chunk]); wake(); });
  stream.on('end', () => { ended = true; wake(); });
  stream.on('error', () => { ended = true; wake(); });
  function parse() {
    if (buffered.length < 2) return undefined;
    let len = buffered[1] & 0x7f;
    let at = 2;
    if (len === 126) { if (buffered.length < 4) return undefined; len = buffered.readUInt16BE(2); at = 4; }
    if (len === 127) { if (buffered.length < 10) return undefined; len = Number(buffered.readBigUInt64BE(2)); at = 10; }
    if (buffered.length < at + len) return undefined;
    const out = { first: buffered[0], payload: buffered.subarray(at, at + len) };
    buffered = buffered.subarray(at + len);
    return out;
  }
  return {
    send: (first, payload) => stream.write(frame(first, payload)),
    async next() {
      for (;;) {
        const f = parse();
        if (f) return f;
        if (ended) return null;
        await new Promise((resolve) => { wake = resolve; });
      }
    },
    async closeCode() {
      for (let f = await this.next(); f; f = await this.next()) {
        if (f.first === 0x88) return f.payload.readUInt16BE(0);
      }
      return null;
    },
  };
}

const ws = await open();
ws.send(0x81, 'hello from node');
let f = await ws.next();
assert.equal(f.first, 0x81); assert.equal(f.payload.toString(), 'hello from node');
console.log('ok text');

const blob = randomBytes(60000);
ws.send(0x82, blob);
f = await ws.next();
assert.equal(f.first, 0x82); assert.ok(f.payload.equals(blob));
console.log('ok binary');

ws.send(0x01, 'frag'); ws.send(0x00, 'men'); ws.send(0x80, 'ted');
f = await ws.next();
assert.equal(f.first, 0x81); assert.equal(f.payload.toString(), 'fragmented');
console.log('ok fragmented');

ws.send(0x89, 'node ping');
f = await ws.next();
assert.equal(f.first, 0x8a); assert.equal(f.payload.toString(), 'node ping');
console.log('ok ping');

ws.send(0x88, Buffer.from([0x03, 0xe8]));
assert.equal(await ws.closeCode(), 1000);
assert.equal(await ws.next(), null);
console.log('ok close 1000');

const cases = [
  ['utf-8 1007', [[0x81, Buffer.from([0xce, 0xba, 0xff])]], 1007],
  ['oversize 1009', [[0x82, Buffer.alloc(70000)]], 1009],
  ['rsv 1002', [[0xc1, 'x']], 1002],
];
await Promise.all(cases.map(async ([name, frames, code]) => {
  const s = await open();
  for (const [first, payload] of frames) s.send(first, payload);
  assert.equal(await s.closeCode(), code, name);
  console.log(`ok ${name}`);
}));

const events = session.request({ ':path': '/events?3' });
let text = '';
events.setEncoding('utf8');
events.on('data', (chunk) => { text += chunk; });
await new Promise((resolve) => events.on('end', resolve));
assert.equal(text, 'id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n');
console.log('ok events');

session.close();

// Node `ws` as the other end of the interop matrix.
//
//   node ws_peer.mjs server              echo server; prints "PLAIN <url> FRAG <url>"
//   node ws_peer.mjs client PLAIN FRAG   runs the matrix; "PASS name" / "FAIL name: why"
//
// The protocol (echo, cmd:close, cmd:ping, /frag) is in ../README.md.
import WebSocket, { WebSocketServer } from 'ws';

// INTEROP_DEFLATE=1: permessage-deflate on, in both roles (ws defaults: client on, server off).
const DEFLATE = process.env.INTEROP_DEFLATE === '1';
import { CASE_TIMEOUT_MS, cases, pieces, pipelined } from './common.mjs';

const MAX_PAYLOAD = 64 << 20;

function sendFragmented(ws, data, isBinary) {
  const parts = pieces(Buffer.isBuffer(data) ? data : Buffer.from(data));
  parts.forEach((part, i) => ws.send(part, { binary: isBinary, fin: i === parts.length - 1 }));
}

function server() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_PAYLOAD, perMessageDeflate: DEFLATE });
  wss.on('listening', () => {
    const { port } = wss.address();
    console.log(`PLAIN ws://127.0.0.1:${port}/ FRAG ws://127.0.0.1:${port}/frag`);
  });
  wss.on('connection', (ws, req) => {
    const frag = req.url === '/frag';
    let pinged = null;
    ws.on('error', (e) => console.error(`server: ${e.message}`));
    ws.on('pong', (data) => {
      if (pinged !== null && data.toString() === pinged) {
        ws.send(`pong ${pinged}`);
        pinged = null;
      }
    });
    ws.on('message', (data, isBinary) => {
      const asText = isBinary ? null : data.toString();
      if (asText !== null && asText.startsWith('cmd:')) {
        const [verb, ...rest] = asText.slice(4).split(' ');
        if (verb === 'close') ws.close(Number(rest[0]), rest.slice(1).join(' '));
        else if (verb === 'ping') { pinged = rest.join(' '); ws.ping(pinged); }
        else ws.close(1008, 'unknown command');
      } else if (frag) {
        sendFragmented(ws, data, isBinary);
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
  });
}

function show(data, isBinary) {
  if (isBinary) return `binary of ${data.length} bytes`;
  const s = data.toString();
  return s.length <= 64 ? `text ${JSON.stringify(s)}` : `text of ${Buffer.byteLength(s)} bytes`;
}

// Runs one case on its own connection; resolves, or rejects with the reason.
function runCase(plain, frag, c) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(c.receiveFragmented !== undefined ? frag : plain, { maxPayload: MAX_PAYLOAD, perMessageDeflate: DEFLATE });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('no answer within 30 s')); }, CASE_TIMEOUT_MS);
    const done = (err) => { clearTimeout(timer); err ? reject(err) : resolve(); };
    // What comes back, in order.
    const expected = c.pipelined
      ? Array.from({ length: c.pipelined }, (_, i) => pipelined(i))
      : [c.echo ?? c.sendFragmented ?? c.receiveFragmented].filter((m) => m !== undefined);
    const sent = expected[0];
    let expectClose = null;
    // Set when the case got what it came for, and closes normally.
    let finished = false;
    const finish = () => { finished = true; ws.close(1000); };
    ws.on('error', (e) => done(e));
    ws.on('open', () => {
      if (c.sendFragmented !== undefined) sendFragmented(ws, sent, Buffer.isBuffer(sent));
      else if (sent !== undefined) expected.forEach((m) => ws.send(m, { binary: Buffer.isBuffer(m) }));
      else if (c.ping) ws.ping(c.ping);
      else if (c.serverPing) ws.send(`cmd:ping ${c.serverPing}`);
      else if (c.clientClose) { expectClose = c.clientClose; ws.close(...c.clientClose); }
      else if (c.serverClose) { expectClose = c.serverClose; ws.send(`cmd:close ${c.serverClose.join(' ')}`); }
    });
    ws.on('pong', (data) => {
      if (!c.ping) return;
      if (data.toString() === c.ping) finish();
      else done(new Error(`pong ${JSON.stringify(data.toString())}`));
    });
    let received = 0;
    ws.on('message', (data, isBinary) => {
      if (received < expected.length) {
        const want = expected[received];
        const same = Buffer.isBuffer(want)
          ? isBinary && want.equals(data)
          : !isBinary && data.toString() === want;
        if (!same) done(new Error(`message ${received}: sent ${show(want, Buffer.isBuffer(want))}, got back ${show(data, isBinary)}`));
        else if (++received === expected.length) finish();
      } else if (c.serverPing && !isBinary && data.toString() === `pong ${c.serverPing}`) {
        finish();
      } else {
        done(new Error(`unexpected ${show(data, isBinary)}`));
      }
    });
    ws.on('close', (code, reason) => {
      if (expectClose === null) {
        return done(finished ? undefined : new Error(`the server closed first (${code})`));
      }
      const [wantCode, wantReason] = expectClose;
      if (c.clientClose && code !== wantCode) done(new Error(`closed with ${wantCode}, the echo had ${code}`));
      else if (c.serverClose && (code !== wantCode || reason.toString() !== wantReason)) {
        done(new Error(`expected (${wantCode}, ${JSON.stringify(wantReason)}), got (${code}, ${JSON.stringify(reason.toString())})`));
      } else done();
    });
  });
}

async function client(plain, frag) {
  let failed = 0;
  for (const [name, c] of cases()) {
    try {
      await runCase(plain, frag, c);
      console.log(`PASS ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${name}: ${e.message}`);
    }
  }
  process.exitCode = failed === 0 ? 0 : 1;
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') server();
else if (mode === 'client' && args.length === 2) await client(...args);
else { console.error('usage: ws_peer.mjs server | client PLAIN FRAG'); process.exit(2); }

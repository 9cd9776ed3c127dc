// What every peer of the interop matrix agrees on: the payloads, the case list and
// the fragment size. The Rust twin is crates/tidings-io/examples/interop_peer.rs,
// the Python one ../python/ws_peer.py; see ../README.md.

export const FRAGMENT = 1000;
export const CASE_TIMEOUT_MS = 30_000;

/** The largest ping payload (RFC 6455 §5.5: control frames carry at most 125 bytes). */
export const PING_125 = '0123456789abcdefghijklmnopqrstuvwxyz'.repeat(4).slice(0, 125);

const PERIOD = Buffer.from(Array.from({ length: 251 }, (_, i) => (i * 31 + 7) % 251));

/** `len` bytes, byte i = (31 i + 7) mod 251 (the pattern repeats every 251 bytes). */
export function binary(len) {
  const out = Buffer.alloc(len);
  for (let at = 0; at < len; at += PERIOD.length) PERIOD.copy(out, at, 0, Math.min(PERIOD.length, len - at));
  return out;
}

/** `len` ASCII bytes, a..z repeated. */
export function text(len) {
  return 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(len / 26)).slice(0, len);
}

/** The data of SSE event `id`; every tenth spans two lines. */
export function sseData(id) {
  return id % 10 === 0 ? `event ${id} ✓\nline two` : `event ${id} ✓`;
}

/** The type of SSE event `id`: every seventh is a `tick`, the others `message`s. */
export function sseType(id) {
  return id % 7 === 0 ? 'tick' : 'message';
}

/** The matrix, in the same order and with the same names in every language. */
export function cases() {
  const list = [
    ['text 0 B', { echo: '' }],
    ['text unicode', { echo: 'héllo wörld ✓ 😀 ∑' }],
  ];
  for (const [name, len] of [['125 B', 125], ['64 KiB', 65536], ['16 MiB', 16 << 20]]) {
    list.push([`text ${name}`, { echo: text(len) }]);
  }
  for (const [name, len] of [
    ['0 B', 0], ['1 B', 1], ['125 B', 125], ['126 B', 126], ['65535 B', 65535],
    ['64 KiB', 65536], ['1 MiB', 1 << 20], ['16 MiB', 16 << 20],
  ]) {
    list.push([`binary ${name}`, { echo: binary(len) }]);
  }
  // 2 MiB in FRAGMENT-byte frames is 2098 frames: the peers cap the fragments of
  // one message (ws at 16384, websockets at 4096).
  const unicode = 'fragmented ✓ 😀 '.repeat(200);
  list.push(
    ['fragmented text, sent', { sendFragmented: unicode }],
    ['fragmented binary, sent', { sendFragmented: binary(100_000) }],
    ['fragmented binary 2 MiB, sent', { sendFragmented: binary(2 << 20) }],
    ['fragmented text, received', { receiveFragmented: unicode }],
    ['fragmented binary, received', { receiveFragmented: binary(100_000) }],
    ['fragmented binary 2 MiB, received', { receiveFragmented: binary(2 << 20) }],
    ['pipelined: 100 messages in order', { pipelined: 100 }],
    ['ping/pong, client pings', { ping: 'p1' }],
    ['ping/pong, 125 B payload', { ping: PING_125 }],
    ['ping/pong, server pings', { serverPing: 'p2' }],
  );
  for (const [code, reason] of [[1000, ''], [1001, 'going away'], [3000, 'app'], [4999, 'bye ✓'], [4000, 'x'.repeat(123)]]) {
    list.push([`close ${code}, client`, { clientClose: [code, reason] }]);
    list.push([`close ${code}, server`, { serverClose: [code, reason] }]);
  }
  return list;
}

/** Message `i` of a pipelined case: text `m<i>` for even `i`, `i` binary bytes for odd. */
export function pipelined(i) {
  return i % 2 === 0 ? `m${i}` : binary(i);
}

/** Splits `buf` into FRAGMENT-byte pieces (one empty piece for an empty buffer). */
export function pieces(buf) {
  const out = [];
  for (let at = 0; at < buf.length || out.length === 0; at += FRAGMENT) out.push(buf.subarray(at, at + FRAGMENT));
  return out;
}

// Differential-test peer for tidings-sse: the npm `eventsource-parser` (pinned in
// package-lock.json), fed the same chunks as the Rust parser.
//
// Input (file named by argv[2]): one case per line, the case's chunks as hex strings
// separated by single spaces (an empty line is a case with no chunks).
// Output (stdout): one JSON array per case, of
//   {"type":"message","event":...,"data":...,"id":...}   (id = last event ID)
//   {"type":"retry","ms":...}
//   {"type":"comment","text":...}
//
// Bytes become text the way a browser does it: TextDecoder ("utf-8", streaming),
// which replaces invalid sequences with U+FFFD and strips one leading BOM.
// eventsource-parser reports only the `id` field of the dispatched block, so the
// spec's persistent last event ID string is kept here, as an EventSource would.
import {readFileSync} from 'node:fs'
import {createParser} from 'eventsource-parser'

const lines = readFileSync(process.argv[2], 'utf8').split('\n')
if (lines.at(-1) === '') lines.pop()

const out = []
for (const line of lines) {
  const items = []
  let lastEventId = ''
  const parser = createParser({
    onEvent(event) {
      if (event.id !== undefined) lastEventId = event.id
      items.push({type: 'message', event: event.event ?? 'message', data: event.data, id: lastEventId})
    },
    onRetry(ms) {
      items.push({type: 'retry', ms})
    },
    onComment(text) {
      items.push({type: 'comment', text})
    },
  })
  const decoder = new TextDecoder('utf-8')
  const chunks = line === '' ? [] : line.split(' ')
  for (const hex of chunks) {
    parser.feed(decoder.decode(Buffer.from(hex, 'hex'), {stream: true}))
  }
  parser.feed(decoder.decode())
  // End of stream: pending data is discarded (no reset({consume: true})).
  out.push(JSON.stringify(items))
}
process.stdout.write(out.join('\n') + '\n')

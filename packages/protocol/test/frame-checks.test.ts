/**
 * The generated frame checks (frame-checks.generated.ts) are what
 * frame-checks-gen.ts makes from the schemas as they are now — a schema
 * changed without `npm run generate -w @drover/protocol` fails here — and
 * they cover exactly the message types of the unions, in their order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AgentMessage, ServerMessage } from '../src/messages.js';
import { AGENT_FRAME_CHECKS, SERVER_FRAME_CHECKS } from '../src/frame-checks.generated.js';
import { frameChecksSource, GENERATED_FILE } from '../src/frame-checks-gen.js';

test('frame-checks.generated.ts matches the wire schemas (else: npm run generate -w @drover/protocol)', () => {
  assert.ok(
    readFileSync(GENERATED_FILE, 'utf8') === frameChecksSource(),
    `${GENERATED_FILE} is stale: run \`npm run generate -w @drover/protocol\` and commit it`,
  );
});

test('there is one generated check per message type, in the union order', () => {
  const tags = (union: { anyOf: { properties: { type: { const: string } } }[] }) => union.anyOf.map((v) => v.properties.type.const);
  assert.deepEqual([...AGENT_FRAME_CHECKS.keys()], tags(AgentMessage));
  assert.deepEqual([...SERVER_FRAME_CHECKS.keys()], tags(ServerMessage));
});

import { describe, expect, it } from 'vitest';
import { canonicalJson, graphEntityJson } from './graph-json.ts';
import { conversationItem } from './teams.ts';
import type { GraphChatMessage } from './teams.ts';

describe('Graph entities as canonical JSON', () => {
  it('leaves out the annotations of the response and sorts keys at every level, as calendar and contacts stored events before', () => {
    const event = {
      '@odata.etag': 'W/"x"',
      id: 'e1',
      subject: 'Plan',
      start: { timeZone: 'UTC', dateTime: '2026-01-01T10:00:00' },
      attendees: [{ type: 'required', emailAddress: { name: 'B', address: 'b@x' } }],
      '@removed': undefined,
      changeKey: 'ck',
      body: { contentType: 'html', content: '<p>hi</p>' },
    };
    // The bytes calendar.ts's graphEntityJson gave this event.
    expect(graphEntityJson(event).toString('utf8')).toBe(
      '{"attendees":[{"emailAddress":{"address":"b@x","name":"B"},"type":"required"}],"body":{"content":"<p>hi</p>","contentType":"html"},"changeKey":"ck","id":"e1","start":{"dateTime":"2026-01-01T10:00:00","timeZone":"UTC"},"subject":"Plan"}',
    );
    const reordered = Object.fromEntries(Object.entries(event).reverse());
    expect(graphEntityJson(reordered)).toEqual(graphEntityJson(event));
  });

  it('stores a channel conversation as teams.ts stored it before, nested annotations kept', async () => {
    const root = {
      '@odata.type': '#microsoft.graph.chatMessage',
      id: '1700000000000',
      etag: '1',
      subject: null,
      createdDateTime: '2026-01-01T00:00:00Z',
      lastModifiedDateTime: '2026-01-01T00:00:00Z',
      from: { user: { '@odata.type': '#microsoft.graph.teamworkUserIdentity', id: 'u', displayName: 'Ann' }, application: null },
      body: { contentType: 'text', content: 'Hello all' },
    } as GraphChatMessage;
    const reply: GraphChatMessage = {
      id: '1700000000001',
      replyToId: '1700000000000',
      etag: '2',
      createdDateTime: '2026-01-01T00:01:00Z',
      body: { content: 'ok', contentType: 'text' },
      '@odata.context': 'x',
    };
    const content = await conversationItem({ id: 'ch', path: 'General' }, root, [reply]).content();
    // The bytes teams.ts's own canonical JSON gave this conversation.
    expect(content.toString()).toBe(
      '{"body":{"content":"Hello all","contentType":"text"},"createdDateTime":"2026-01-01T00:00:00Z","etag":"1","from":{"application":null,"user":{"@odata.type":"#microsoft.graph.teamworkUserIdentity","displayName":"Ann","id":"u"}},"id":"1700000000000","lastModifiedDateTime":"2026-01-01T00:00:00Z","replies":[{"body":{"content":"ok","contentType":"text"},"createdDateTime":"2026-01-01T00:01:00Z","etag":"2","id":"1700000000001","replyToId":"1700000000000"}],"subject":null}',
    );
  });

  it('keeps arrays in their order and values as they are', () => {
    expect(canonicalJson({ b: [3, 1, { z: 1, a: null }], a: 'x' })).toBe('{"a":"x","b":[3,1,{"a":null,"z":1}]}');
    expect(canonicalJson(JSON.parse('{"__proto__":{"b":1,"a":2}}'))).toBe('{"__proto__":{"a":2,"b":1}}');
  });
});

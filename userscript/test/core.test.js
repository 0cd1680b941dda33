// node --test userscript/test/ : the userscript's pure helpers.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const core = require("../chatgpt-archiver.user.js");

const ID = "6a1b2c3d-0000-8000-8000-00000000beef";

test("classify: the conversation reads and writes we act on", () => {
  const cases = [
    ["GET", `/backend-api/conversation/${ID}`, { kind: "tree", id: ID }],
    ["GET", `https://chatgpt.com/backend-api/conversation/${ID}`, { kind: "tree", id: ID }],
    ["get", `https://chat.openai.com/backend-api/conversation/${ID}?x=1`, { kind: "tree", id: ID }],
    ["GET", `/backend-api/conversations/${ID}?include_has_versions=true&num_turns=10`, { kind: "page", id: ID }],
    ["GET", `/backend-api/conversations/${ID}?num_turns=10&include_has_versions=true`, { kind: "page", id: ID }],
    ["POST", "/backend-api/conversations/batch", { kind: "batch", id: null }],
    ["POST", "/backend-api/f/conversation", { kind: "send", id: null }],
    ["POST", "/backend-api/conversation", { kind: "send", id: null }],
  ];
  for (const [method, url, expected] of cases) {
    assert.deepEqual(core.classify(method, url, "https://chatgpt.com/c/" + ID), expected, url);
  }
});

test("classify: sub-resources, lists and other sites are never conversations", () => {
  const ignored = [
    ["GET", `/backend-api/conversation/${ID}/textdocs`],
    ["GET", `/backend-api/conversation/${ID}/stream_status`],
    ["GET", `/backend-api/conversation/${ID}/attachment/file_1/download`],
    ["GET", `/backend-api/conversation/${ID}/interpreter/download?message_id=1`],
    ["GET", `/backend-api/conversation/gen_title/${ID}`],
    ["POST", "/backend-api/conversation/init"],
    ["POST", "/backend-api/conversation/message_feedback"],
    ["POST", `/backend-api/conversation/id/${ID}/rename`],
    ["PATCH", `/backend-api/conversation/${ID}`],
    ["GET", `/backend-api/conversations/${ID}/messages?before=c1`],
    ["GET", "/backend-api/conversations?offset=0&limit=28&order=updated"],
    ["GET", "/backend-api/conversations/search?query=x"],
    ["GET", "/backend-api/conversation/not-a-uuid"],
    ["POST", "/backend-api/f/conversation/prepare"],
    ["POST", `/backend-api/conversation/${ID}`],
    ["GET", `https://example.com/backend-api/conversation/${ID}`],
    ["GET", "/api/auth/session"],
    ["GET", "::not a url::"],
  ];
  for (const [method, url] of ignored) {
    assert.equal(core.classify(method, url, "https://chatgpt.com/"), null, `${method} ${url}`);
  }
});

test("conversationIdFromPath", () => {
  assert.equal(core.conversationIdFromPath(`/c/${ID}`), ID);
  assert.equal(core.conversationIdFromPath(`/g/g-p-abc/c/${ID}`), ID);
  assert.equal(core.conversationIdFromPath("/"), null);
  assert.equal(core.conversationIdFromPath("/c/short"), null);
});

test("isTree and isPage", () => {
  assert.equal(core.isTree({ conversation_id: ID, mapping: {} }), true);
  assert.equal(core.isTree({ id: ID, mapping: {} }), true);
  assert.equal(core.isTree({ status: "COMPLETE" }), false);
  assert.equal(core.isTree([]), false);
  assert.equal(core.isTree(null), false);
  assert.equal(core.isPage({ messages: [] }), true);
  assert.equal(core.isPage({ messages: {} }), false);
});

test("mergePages: newest page's metadata, records oldest first, each once", () => {
  const newest = { conversation_id: ID, title: "t", update_time: 5, current_node: "d",
    messages: [{ id: "c" }, { id: "d" }], page_info: { has_previous_page: true, start_cursor: "x" } };
  const older = { messages: [{ id: "a" }, { id: "b" }, { id: "c" }], page_info: { has_previous_page: false } };
  assert.deepEqual(core.mergePages([newest, older]), {
    conversation_id: ID, title: "t", update_time: 5, current_node: "d",
    messages: [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }],
  });
});

test("pickAuthHeaders keeps the page's auth headers only", () => {
  const expected = { authorization: "Bearer t", "chatgpt-account-id": "acct", "oai-device-id": "dev" };
  const input = { Authorization: "Bearer t", "ChatGPT-Account-Id": "acct", "OAI-Device-Id": "dev",
    "Content-Type": "application/json", "x-openai-target-path": "/x" };
  assert.deepEqual(core.pickAuthHeaders(input), expected);
  assert.deepEqual(core.pickAuthHeaders(Object.entries(input)), expected);
  assert.deepEqual(core.pickAuthHeaders(new Headers(input)), expected);
  assert.deepEqual(core.pickAuthHeaders(null), {});
});

test("parseRetryAfter: seconds or an HTTP date", () => {
  const now = Date.parse("2026-11-25T10:00:00Z");
  assert.equal(core.parseRetryAfter("7", now), 7);
  assert.equal(core.parseRetryAfter("Wed, 25 Nov 2026 10:00:30 GMT", now), 30);
  assert.equal(core.parseRetryAfter(null, now), null);
  assert.equal(core.parseRetryAfter("soon", now), null);
});

test("backoffDelay: Retry-After wins, else exponential with jitter, capped", () => {
  const half = { random: () => 0 };
  const full = { random: () => 1 };
  assert.equal(core.backoffDelay(0, 3, full), 3000);
  assert.equal(core.backoffDelay(0, null, half), 1000);
  assert.equal(core.backoffDelay(0, null, full), 2000);
  assert.equal(core.backoffDelay(3, null, full), 16000);
  assert.equal(core.backoffDelay(50, null, full), 600000);
  assert.equal(core.backoffDelay(2, 10000, full), 600000);
});

test("postOutcome", () => {
  assert.deepEqual([200, 201, 0, 401, 408, 413, 429, 500, 503, 400, 404, 422].map(core.postOutcome), [
    "done", "done", "retry", "retry", "retry", "retry", "retry", "retry", "retry", "drop", "drop", "drop",
  ]);
});

test("queue: a newer capture of the same conversation replaces the queued one", () => {
  let q = [];
  q = core.enqueue(q, { conversationId: "a", shape: "tree", body: "1" });
  q = core.enqueue(q, { conversationId: "b", shape: "tree", body: "2" });
  q = core.enqueue(q, { conversationId: "a", shape: "tree", body: "3" });
  q = core.enqueue(q, { conversationId: "a", shape: "page", body: "4" });
  assert.deepEqual(q.map((i) => i.body), ["2", "3", "4"]);
  assert.equal(core.nextDue(q, 0).body, "2");
});

test("settle: done leaves, retry waits with backoff, drop leaves", () => {
  const options = { random: () => 1 };
  let q = core.enqueue([], { conversationId: "a", shape: "tree", body: "1" });
  q = core.enqueue(q, { conversationId: "b", shape: "tree", body: "2" });
  const down = core.settle(q, q[0], 0, 1000, null, options);
  assert.equal(down.outcome, "retry");
  assert.deepEqual(down.queue.map((i) => [i.body, i.attempts, i.due, i.error]), [
    ["1", 1, 3000, "archive unreachable"], ["2", 0, 0, null],
  ]);
  assert.equal(core.nextDue(down.queue, 1000).body, "2");
  assert.equal(core.nextDue(down.queue, 3000).body, "1");
  const again = core.settle(down.queue, down.queue[0], 503, 3000, null, options);
  assert.equal(again.queue[0].due, 3000 + 4000);
  const rateLimited = core.settle(down.queue, down.queue[0], 429, 3000, 60, options);
  assert.equal(rateLimited.queue[0].due, 63000);
  const rejected = core.settle(q, q[0], 422, 1000, null, options);
  assert.deepEqual([rejected.outcome, rejected.queue.map((i) => i.body)], ["drop", ["2"]]);
  const stored = core.settle(q, q[1], 201, 1000, null, options);
  assert.deepEqual([stored.outcome, stored.queue.map((i) => i.body)], ["done", ["1"]]);
});

test("settle: a retry does not come back over a newer capture queued meanwhile", () => {
  let q = core.enqueue([], { conversationId: "a", shape: "tree", body: "old" });
  const inFlight = q[0];
  q = core.enqueue(q, { conversationId: "a", shape: "tree", body: "new" });
  const after = core.settle(q, inFlight, 0, 1000, null, { random: () => 1 });
  assert.deepEqual(after.queue.map((i) => i.body), ["new"]);
});

test("paceDelay: one read start per interval", () => {
  assert.equal(core.paceDelay(null, 1000, 5000), 0);
  assert.equal(core.paceDelay(5000, 1000, 5200), 800);
  assert.equal(core.paceDelay(5000, 1000, 7000), 0);
});

test("list paging", () => {
  assert.equal(core.listUrl(0, 100, false), "/backend-api/conversations?offset=0&limit=100&order=updated");
  assert.equal(core.listUrl(100, 100, true),
    "/backend-api/conversations?offset=100&limit=100&order=updated&is_archived=true");
  assert.equal(core.listHasMore({ items: [1, 2], total: 5 }, 0), true);
  assert.equal(core.listHasMore({ items: [1, 2], total: 4 }, 2), false);
  assert.equal(core.listHasMore({ items: [], total: null }, 0), false);
  assert.equal(core.listHasMore({ items: [1, 2], total: null, limit: 2 }, 0), true);
  assert.equal(core.listHasMore({ items: [1], total: null, limit: 2 }, 0), false);
  assert.equal(core.olderPageUrl(ID, "c 1"),
    `/backend-api/conversations/${ID}/messages?before=c%201&include_has_versions=true&num_turns=10`);
});

test("bringForward: nothing waits past the given time; earlier items keep their time", () => {
  const q = [
    { conversationId: "a", shape: "tree", body: "1", attempts: 7, due: 500000, error: "archive unreachable" },
    { conversationId: "b", shape: "tree", body: "2", attempts: 0, due: 1000, error: null },
  ];
  assert.deepEqual(core.bringForward(q, 4000), [
    { conversationId: "a", shape: "tree", body: "1", attempts: 7, due: 4000, error: "archive unreachable" },
    { conversationId: "b", shape: "tree", body: "2", attempts: 0, due: 1000, error: null },
  ]);
  assert.equal(q[0].due, 500000); // the queue given is not changed
});

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
    ["GET", `/backend-api/conversation/${ID}/textdocs`, { kind: "textdocs", id: ID }],
  ];
  for (const [method, url, expected] of cases) {
    assert.deepEqual(core.classify(method, url, "https://chatgpt.com/c/" + ID), expected, url);
  }
});

test("classify: sub-resources, lists and other sites are never conversations", () => {
  const ignored = [
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

test("afterAttempt: done and drop leave, retry waits with backoff", () => {
  const options = { random: () => 1 };
  const item = { kind: "conversation", id: "a", stamp: "s1", attempts: 0, due: 0, error: null, claim: { tab: "t", until: 9 } };
  assert.deepEqual(core.afterAttempt(item, 201, 1000, null, options), { outcome: "done", item: null });
  assert.deepEqual(core.afterAttempt(item, 422, 1000, null, options), { outcome: "drop", item: null });
  const down = core.afterAttempt(item, 0, 1000, null, options);
  assert.deepEqual(down, {
    outcome: "retry",
    item: { kind: "conversation", id: "a", stamp: "s1", attempts: 1, due: 3000, error: "archive unreachable", claim: null },
  });
  assert.equal(core.afterAttempt(down.item, 503, 3000, null, options).item.due, 3000 + 4000);
  assert.equal(core.afterAttempt(down.item, 429, 3000, 60, options).item.due, 63000);
  assert.equal(item.attempts, 0); // the item given is not changed
});

test("pickDue: due, unclaimed by other tabs, conversations first, then earliest", () => {
  const items = [
    ["q:asset:file-a", { kind: "asset", due: 0 }],
    ["q:conversation:b", { kind: "conversation", due: 500 }],
    ["q:conversation:c", { kind: "conversation", due: 100, claim: { tab: "other", until: 5000 } }],
    ["q:textdocs:d", { kind: "textdocs", due: 50 }],
  ];
  assert.equal(core.pickDue(items, 1000, "me")[0], "q:conversation:b");
  assert.equal(core.pickDue(items, 400, "me")[0], "q:textdocs:d");
  assert.equal(core.pickDue(items, 6000, "me")[0], "q:conversation:c"); // the claim ran out
  assert.equal(core.pickDue(items, 1000, "other")[0], "q:conversation:c"); // its own claim
  assert.equal(core.pickDue([["q:x", { kind: "asset", due: 10 }]], 5, "me"), null);
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
  const late = { kind: "conversation", id: "a", attempts: 7, due: 500000, error: "archive unreachable" };
  const soon = { kind: "conversation", id: "b", attempts: 0, due: 1000, error: null };
  assert.deepEqual(core.bringForward(late, 4000), { ...late, due: 4000 });
  assert.equal(core.bringForward(soon, 4000), soon);
  assert.equal(late.due, 500000); // the item given is not changed
});

const OTHER = "6a1b2c3d-0000-8000-8000-00000000f00d";

test("idMatches: a body is kept only under the id its request named", () => {
  const tree = (fields) => ({ mapping: {}, ...fields });
  assert.equal(core.idMatches("tree", ID, tree({ conversation_id: ID })), true);
  assert.equal(core.idMatches("tree", ID, tree({ id: ID })), true);
  assert.equal(core.idMatches("tree", ID, tree({ conversation_id: ID, id: ID })), true);
  assert.equal(core.idMatches("tree", ID, tree({ conversation_id: OTHER })), false);
  assert.equal(core.idMatches("tree", ID, tree({ conversation_id: ID, id: OTHER })), false); // two names
  assert.equal(core.idMatches("tree", ID, tree({ conversation_id: OTHER, id: ID })), false);
  assert.equal(core.idMatches("tree", ID, tree({})), false);
  assert.equal(core.idMatches("tree", ID, { conversation_id: ID }), false); // no mapping
  assert.equal(core.idMatches("tree", ID, tree({ conversation_id: 7 })), false);
  assert.equal(core.idMatches("page", ID, { conversation_id: ID, messages: [] }), true);
  assert.equal(core.idMatches("page", ID, { conversation_id: OTHER, messages: [] }), false);
  assert.equal(core.idMatches("page", ID, { messages: [] }), false); // a page that names nothing
  assert.equal(core.idMatches("batch", null, tree({ conversation_id: ID }), [OTHER, ID]), true);
  assert.equal(core.idMatches("batch", null, tree({ conversation_id: ID }), [OTHER]), false);
  assert.equal(core.idMatches("batch", null, tree({ conversation_id: ID }), null), false);
  assert.equal(core.idMatches("send", ID, tree({ conversation_id: ID })), false);
  // Only own properties count: an inherited id is not the body's.
  const inherited = Object.create({ conversation_id: ID });
  inherited.mapping = {};
  assert.equal(core.idMatches("tree", ID, inherited), false);
  assert.deepEqual(core.batchRequestIds(JSON.stringify({ conversation_ids: [ID, 3, OTHER] })), [ID, OTHER]);
  assert.deepEqual(core.batchRequestIds("not json"), []);
});

test("the pure helpers keep working when the page replaces built-ins after load", () => {
  const saved = {
    indexOf: String.prototype.indexOf, exec: RegExp.prototype.exec, keys: Object.keys, parse: JSON.parse,
    hasOwn: Object.prototype.hasOwnProperty, isArray: Array.isArray, push: Array.prototype.push,
    lower: String.prototype.toLowerCase, upper: String.prototype.toUpperCase, call: Function.prototype.call,
  };
  try {
    String.prototype.indexOf = () => 0;
    RegExp.prototype.exec = () => [OTHER, OTHER, OTHER];
    Object.keys = () => [];
    JSON.parse = () => ({ conversation_ids: [OTHER] });
    Object.prototype.hasOwnProperty = () => true;
    Array.isArray = () => true;
    Array.prototype.push = () => 0;
    String.prototype.toLowerCase = () => "authorization";
    String.prototype.toUpperCase = () => "GET";
    Function.prototype.call = () => true;
    assert.deepEqual(core.classify("GET", `/backend-api/conversation/${ID}`), { kind: "tree", id: ID });
    assert.equal(core.classify("GET", `https://example.com/backend-api/conversation/${ID}`), null);
    assert.equal(core.idMatches("tree", ID, { mapping: {}, conversation_id: OTHER }), false);
    assert.deepEqual(core.batchRequestIds(`{"conversation_ids": ["${ID}"]}`), [ID]);
    assert.deepEqual(core.assetRefs({ mapping: { n: { message: { content: { parts: ["file-service://file-abc"] } } } } })
      .map((r) => r.fileId), ["file-abc"]);
    assert.deepEqual(core.pickAuthHeaders({ Authorization: "Bearer t", Cookie: "x" }), { authorization: "Bearer t" });
  } finally {
    String.prototype.indexOf = saved.indexOf;
    RegExp.prototype.exec = saved.exec;
    Object.keys = saved.keys;
    JSON.parse = saved.parse;
    Object.prototype.hasOwnProperty = saved.hasOwn;
    Array.isArray = saved.isArray;
    Array.prototype.push = saved.push;
    String.prototype.toLowerCase = saved.lower;
    String.prototype.toUpperCase = saved.upper;
    Function.prototype.call = saved.call;
  }
});

test("fileIdFromPointer", () => {
  assert.equal(core.fileIdFromPointer("file-service://file-6y9faxjcnXrzx8UTUQepS7"), "file-6y9faxjcnXrzx8UTUQepS7");
  assert.equal(core.fileIdFromPointer("sediment://file_00000000a1b2c3d4e5f60718293a4b5c"), "file_00000000a1b2c3d4e5f60718293a4b5c");
  assert.equal(core.fileIdFromPointer("sediment://9f8e7d#file_00000000a1b2c3d4e5f60718293a4b5c"), "file_00000000a1b2c3d4e5f60718293a4b5c");
  for (const bad of ["https://x/file-abc", "file-service://../etc", "sediment://", "file-service://file-a b", null, 3]) {
    assert.equal(core.fileIdFromPointer(bad), null, String(bad));
  }
});

test("assetRefs: uploads, attachments, generated images, plots, voice; each file once", () => {
  const upload = { content_type: "image_asset_pointer", asset_pointer: "file-service://file-up1", size_bytes: 640100,
                   metadata: { dalle: null } };
  const generated = { content_type: "image_asset_pointer", asset_pointer: "sediment://file_00gen",
                      size_bytes: 2000, metadata: { watermarked_asset_pointer: "sediment://abc#file_00gen", generation: {} } };
  const voice = { content_type: "real_time_user_audio_video_asset_pointer",
                  audio_asset_pointer: { content_type: "audio_asset_pointer", asset_pointer: "sediment://file_00voice", size_bytes: 132078 } };
  const tree = { conversation_id: ID, mapping: {
    root: { id: "root", message: null, parent: null, children: ["u"] },
    u: { id: "u", message: { content: { content_type: "multimodal_text", parts: [upload, "look"] },
         metadata: { attachments: [{ id: "file-up1", name: "trail.png", size: 640100, mime_type: "image/png" },
                                   { id: "file-doc", name: "notes.pdf", size: 10, mime_type: "application/pdf" }] } } },
    g: { id: "g", message: { content: { content_type: "multimodal_text", parts: [generated] }, metadata: {} } },
    p: { id: "p", message: { content: { content_type: "execution_output", text: "" },
         metadata: { aggregate_result: { messages: [{ message_type: "image", image_url: "file-service://file-plot" }] } } } },
    v: { id: "v", message: { content: { content_type: "multimodal_text", parts: [voice] }, metadata: {} } },
    x: { id: "x", message: { content: { content_type: "text", parts: ["not a pointer: file-service://"] }, metadata: {} } },
  } };
  assert.deepEqual(core.assetRefs(tree), [
    { fileId: "file-up1", scheme: "file-service", name: "trail.png", size: 640100, mime: "image/png" },
    { fileId: "file-doc", scheme: "file-service", name: "notes.pdf", size: 10, mime: "application/pdf" },
    { fileId: "file_00gen", scheme: "sediment", name: null, size: 2000, mime: null },
    { fileId: "file-plot", scheme: "file-service", name: null, size: null, mime: null },
    { fileId: "file_00voice", scheme: "sediment", name: null, size: 132078, mime: null },
  ]);
  // The plural read's records are messages themselves.
  assert.deepEqual(core.assetRefs({ messages: [tree.mapping.u.message] }).map((r) => r.fileId), ["file-up1", "file-doc"]);
  assert.deepEqual(core.assetRefs({ mapping: null }), []);
  assert.deepEqual(core.assetRefs(null), []);
});

test("downloadLookupPaths", () => {
  assert.deepEqual(core.downloadLookupPaths({ fileId: "file-up1", scheme: "file-service" }, ID), [
    `/backend-api/files/download/file-up1?conversation_id=${ID}&inline=false`,
    "/backend-api/files/file-up1/download",
  ]);
  assert.deepEqual(core.downloadLookupPaths({ fileId: "file_00gen", scheme: "sediment" }, ID), [
    `/backend-api/conversation/${ID}/attachment/file_00gen/download`,
    `/backend-api/files/download/file_00gen?conversation_id=${ID}&inline=false`,
  ]);
});

test("hasCanvas", () => {
  const node = (message) => ({ mapping: { n: { message } } });
  assert.equal(core.hasCanvas(node({ recipient: "canmore.create_textdoc", metadata: {} })), true);
  assert.equal(core.hasCanvas(node({ author: { name: "canmore.update_textdoc" }, metadata: {} })), true);
  assert.equal(core.hasCanvas(node({ recipient: "all", metadata: { canvas: { textdoc_id: "t" } } })), true);
  assert.equal(core.hasCanvas({ messages: [{ recipient: "canmore.create_textdoc" }] }), true);
  assert.equal(core.hasCanvas(node({ recipient: "all", author: { name: null }, metadata: {} })), false);
});

test("pickAuthHeaders and accountId: the latest request's account, else personal", () => {
  const headers = new Headers({ Authorization: "Bearer t", "ChatGPT-Account-Id": "acct-2", Cookie: "no" });
  const picked = core.pickAuthHeaders(headers, (h, fn) => Headers.prototype.forEach.call(h, fn));
  assert.deepEqual(picked, { authorization: "Bearer t", "chatgpt-account-id": "acct-2" });
  assert.equal(core.accountId(picked), "acct-2");
  assert.equal(core.accountId({ authorization: "Bearer t" }), "personal");
  // A plain object that only looks like Headers is read as a plain object.
  const fake = { forEach: () => { throw new Error("called"); }, authorization: "Bearer u" };
  assert.deepEqual(core.pickAuthHeaders(fake, (h, fn) => Headers.prototype.forEach.call(h, fn)), { authorization: "Bearer u" });
});

test("sync lease: one holder, renewed by it, free when it stops renewing", () => {
  const first = core.leaseAfterHeartbeat(null, "a", 1000, 90000);
  assert.deepEqual(first, { lease: { tab: "a", until: 91000 }, mine: true });
  assert.deepEqual(core.leaseAfterHeartbeat(first.lease, "b", 30000, 90000), { lease: first.lease, mine: false });
  assert.deepEqual(core.leaseAfterHeartbeat(first.lease, "a", 31000, 90000), { lease: { tab: "a", until: 121000 }, mine: true });
  assert.deepEqual(core.leaseAfterHeartbeat(first.lease, "b", 91001, 90000), { lease: { tab: "b", until: 181001 }, mine: true });
});

test("syncDue", () => {
  assert.equal(core.syncDue(null, 5, 10), true);
  assert.equal(core.syncDue(1000, 1000 + 599999, 10), false);
  assert.equal(core.syncDue(1000, 1000 + 600000, 10), true);
  assert.equal(core.syncDue(null, 5, 0), false); // switched off
});

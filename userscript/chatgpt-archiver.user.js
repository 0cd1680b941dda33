// ==UserScript==
// @name         chatgpt-archiver
// @namespace    chatgpt-archiver
// @version      0.2.0
// @description  Keep your own archive of your ChatGPT conversations on your chatgpt-archiver server.
// @match        https://chatgpt.com/*
// @match        https://chat.openai.com/*
// @run-at       document-start
// @grant        GM_xmlhttpRequest
// @grant        GM_getValue
// @grant        GM_setValue
// @grant        GM_deleteValue
// @grant        GM_listValues
// @grant        GM_addValueChangeListener
// @grant        GM_registerMenuCommand
// @grant        unsafeWindow
// @connect      127.0.0.1
// @connect      localhost
// @connect      oaiusercontent.com
// @connect      openai.com
// ==/UserScript==
//
// Header notes: @match covers today's address and the old one; @run-at document-start so the
// fetch hook is in place before the app's first read; GM_xmlhttpRequest posts to the archive
// without the page's CSP, CORS or Chromium's Local Network Access prompt in the way (@connect
// names the archive's host; the server adds its own when it serves this file); unsafeWindow is
// the page's realm, whose fetch we wrap. GM_deleteValue/GM_listValues keep the queue one key
// per item, so tabs never overwrite each other's captures; @connect oaiusercontent.com and
// openai.com let the manager fetch a file from the signed download URL ChatGPT hands out,
// without any ChatGPT credential, and nowhere else (no @connect *: a page that could steer the
// URL could otherwise have the manager fetch any address, CORS aside).
//
// The file has two halves: pure helpers (URL classification, queueing, backoff, pacing, page
// merging), exported for `node --test`, and thin glue that wires them to the page.

/* eslint-disable no-var */
"use strict";

// Filled in by the server that serves this file (and by the snippet command).
var ARCHIVER_SERVER = "__ARCHIVER_SERVER__";
var ARCHIVER_TOKEN = "__ARCHIVER_TOKEN__";

var ArchiverCore = (function () {
  // Private copies of the built-ins these helpers use, taken when the file is evaluated (at
  // document-start, before any page script). In the page's realm a later script can replace
  // String.prototype.indexOf, RegExp.prototype.exec, JSON.parse, Object.keys...; calling them
  // through these references, never through the prototypes, keeps such a replacement out.
  var FP = Function.prototype;
  var uncurry = FP.bind.bind(FP.call); // uncurry(f)(self, ...args) === f.call(self, ...args)
  var $ = {
    exec: uncurry(RegExp.prototype.exec),
    indexOf: uncurry(String.prototype.indexOf),
    slice: uncurry(String.prototype.slice),
    lower: uncurry(String.prototype.toLowerCase),
    upper: uncurry(String.prototype.toUpperCase),
    split: uncurry(String.prototype.split),
    keys: Object.keys,
    hasOwn: uncurry(Object.prototype.hasOwnProperty),
    isArray: Array.isArray,
    String: String,
    Number: Number,
    isFinite: isFinite,
    URL: typeof URL === "function" ? URL : null,
    urlHost: null,
    urlPath: null,
    encode: encodeURIComponent,
    min: Math.min,
    max: Math.max,
    pow: Math.pow,
    round: Math.round,
    random: Math.random,
    dateParse: Date.parse,
    parse: JSON.parse,
  };
  if ($.URL) {
    $.urlHost = uncurry(Object.getOwnPropertyDescriptor($.URL.prototype, "hostname").get);
    $.urlPath = uncurry(Object.getOwnPropertyDescriptor($.URL.prototype, "pathname").get);
  }

  function own(object, key) {
    return object !== null && typeof object === "object" && $.hasOwn(object, key) ? object[key] : undefined;
  }

  function push(list, value) {
    list[list.length] = value; // no Array.prototype.push: the page may have replaced it
    return list;
  }

  var UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  var HOSTS = ["chatgpt.com", "chat.openai.com"];
  // Exactly these paths carry conversations; everything else under /backend-api/conversation/
  // (stream_status, attachments, gen_title, init, ...) is a sub-resource. textdocs (canvas)
  // is read too, and goes to its own archive route.
  var ROUTES = [
    { kind: "tree", method: "GET", re: new RegExp("^/backend-api/conversation/(" + UUID + ")$") },
    { kind: "page", method: "GET", re: new RegExp("^/backend-api/conversations/(" + UUID + ")$") },
    { kind: "batch", method: "POST", re: /^\/backend-api\/conversations\/batch$/ },
    { kind: "send", method: "POST", re: /^\/backend-api\/(?:f\/)?conversation$/ },
    { kind: "textdocs", method: "GET", re: new RegExp("^/backend-api/conversation/(" + UUID + ")/textdocs$") },
  ];
  // Headers the page sends with its own /backend-api reads; our reads copy them.
  var AUTH_HEADERS = [
    "authorization",
    "chatgpt-account-id",
    "chatgpt-project-id",
    "oai-device-id",
    "oai-session-id",
    "oai-language",
    "oai-client-version",
    "oai-client-build-number",
  ];

  function isHost(name) {
    for (var i = 0; i < HOSTS.length; i++) if (HOSTS[i] === name) return true;
    return false;
  }

  /** What a request is to the archiver: {kind, id} or null. `url` is absolute or relative. */
  function classify(method, url, base) {
    var parsed;
    try {
      parsed = new $.URL($.String(url), base || "https://chatgpt.com/");
    } catch (e) {
      return null;
    }
    if (!isHost($.urlHost(parsed))) return null;
    var verb = $.upper($.String(method || "GET"));
    var path = $.urlPath(parsed);
    for (var i = 0; i < ROUTES.length; i++) {
      var route = ROUTES[i];
      var match = route.method === verb && $.exec(route.re, path);
      if (match) return { kind: route.kind, id: match[1] || null };
    }
    return null;
  }

  /** The conversation open at a page path: /c/<id>, /g/<gizmo>/c/<id>. */
  function conversationIdFromPath(pathname) {
    var match = $.exec(new RegExp("/c/(" + UUID + ")(?:/|$)"), $.String(pathname || ""));
    return match ? match[1] : null;
  }

  /** The id a conversation body names for itself (own properties only), or null. */
  function bodyId(body) {
    var cid = own(body, "conversation_id");
    var id = own(body, "id");
    if (typeof cid === "string" && typeof id === "string" && cid !== id) return null; // two names
    if (typeof cid === "string") return cid;
    return typeof id === "string" ? id : null;
  }

  function isTree(body) {
    var mapping = own(body, "mapping");
    return !$.isArray(body) && !!mapping && typeof mapping === "object" && !$.isArray(mapping) && bodyId(body) !== null;
  }

  function isPage(body) {
    return !$.isArray(body) && $.isArray(own(body, "messages"));
  }

  /** Issue 12.5: a body is kept only under the id of the request that returned it. A tree or
   * page must name exactly the conversation its URL named; every tree of a batch read must be
   * one the request asked for. Anything else (a page script or service worker answering one
   * URL with another conversation) is dropped. */
  function idMatches(kind, urlId, body, requestedIds) {
    if (kind === "tree") return isTree(body) && bodyId(body) === urlId;
    if (kind === "page") {
      var named = bodyId(body);
      return isPage(body) && (named === null ? false : named === urlId);
    }
    if (kind === "batch") {
      if (!isTree(body) || !$.isArray(requestedIds)) return false;
      for (var i = 0; i < requestedIds.length; i++) if (requestedIds[i] === bodyId(body)) return true;
      return false;
    }
    return false;
  }

  /** The conversation ids a batch request body asked for ([] if it is not one). */
  function batchRequestIds(text) {
    var ids = [];
    var body;
    try {
      body = $.parse($.String(text));
    } catch (e) {
      return ids;
    }
    var list = own(body, "conversation_ids");
    if (!$.isArray(list)) return ids;
    for (var i = 0; i < list.length; i++) if (typeof list[i] === "string") push(ids, list[i]);
    return ids;
  }

  /** Pages of the plural read, newest first as fetched -> one object the server accepts:
   * the newest page's metadata and every record, oldest first, each id once. */
  function mergePages(pages) {
    var merged = {};
    var newest = pages[0] || {};
    var names = $.keys(newest);
    for (var n = 0; n < names.length; n++) {
      if (names[n] !== "messages" && names[n] !== "page_info") merged[names[n]] = newest[names[n]];
    }
    var seen = {};
    var records = [];
    for (var i = pages.length - 1; i >= 0; i--) {
      var messages = pages[i].messages || [];
      for (var j = 0; j < messages.length; j++) {
        var m = messages[j];
        var id = m && (m.id || (m.message && m.message.id));
        if (id && !$.hasOwn(seen, id)) {
          seen[id] = true;
          push(records, m);
        }
      }
    }
    merged.messages = records;
    return merged;
  }

  /** Headers worth copying from a page request (a Headers, array of pairs, or plain object).
   * `forEachHeader(headers, fn)` reads a Headers object (the glue passes a private copy). */
  function pickAuthHeaders(headers, forEachHeader) {
    var out = {};
    if (!headers) return out;
    var entries = [];
    var read = false;
    if (forEachHeader && !$.isArray(headers)) {
      try {
        forEachHeader(headers, function (v, k) {
          push(entries, [k, v]);
        });
        read = true;
      } catch (e) {
        read = false; // not a real Headers object: read it as a plain one below
      }
    }
    if (read) {
      // done
    } else if (!forEachHeader && typeof headers.forEach === "function" && !$.isArray(headers)) {
      headers.forEach(function (v, k) {
        push(entries, [k, v]);
      });
    } else if ($.isArray(headers)) {
      entries = headers;
    } else {
      var names = $.keys(headers);
      for (var n = 0; n < names.length; n++) push(entries, [names[n], headers[names[n]]]);
    }
    for (var i = 0; i < entries.length; i++) {
      var name = $.lower($.String(entries[i][0]));
      for (var a = 0; a < AUTH_HEADERS.length; a++) {
        if (AUTH_HEADERS[a] === name && entries[i][1]) out[name] = $.String(entries[i][1]);
      }
    }
    return out;
  }

  /** The account (workspace) a request was made as: its ChatGPT-Account-Id, or "personal". */
  function accountId(headers) {
    var id = headers && own(headers, "chatgpt-account-id");
    return id ? $.String(id) : "personal";
  }

  // ---- assets ------------------------------------------------------------------------

  var FILE_ID = /^file[-_][A-Za-z0-9_-]{1,200}$/;
  var POINTER = /^(file-service|sediment):\/\/(?:[^#\s]*#)?(file[-_][A-Za-z0-9_-]{1,200})$/;

  /** file-service://file-abc -> file-abc; sediment://file_00.. and watermarked
   * sediment://<hash>#file_.. -> file_..; anything else -> null. */
  function fileIdFromPointer(pointer) {
    var match = typeof pointer === "string" && $.exec(POINTER, pointer);
    return match ? match[2] : null;
  }

  /** Every file a conversation points at: asset pointers anywhere in a message (uploads,
   * generated images, code-interpreter plots, voice audio), and message.metadata.attachments.
   * -> [{fileId, scheme, name, size, mime}], each file once, in order of appearance. */
  function assetRefs(body) {
    var refs = [];
    var byId = {};
    function add(fileId, scheme, name, size, mime) {
      if (!fileId || !$.exec(FILE_ID, fileId)) return;
      var ref = $.hasOwn(byId, fileId) ? byId[fileId] : null;
      if (!ref) {
        ref = byId[fileId] = { fileId: fileId, scheme: scheme, name: null, size: null, mime: null };
        push(refs, ref);
      }
      if (scheme === "sediment") ref.scheme = scheme;
      if (!ref.name && typeof name === "string" && name) ref.name = name;
      if (ref.size === null && typeof size === "number" && size >= 0) ref.size = size;
      if (!ref.mime && typeof mime === "string" && mime) ref.mime = mime;
    }
    var budget = 200000; // nodes visited: a hostile or huge body cannot stall the page
    function walk(value, depth) {
      if (--budget < 0 || depth > 40) return;
      if (typeof value === "string") {
        var match = $.exec(POINTER, value);
        if (match) add(match[2], match[1], null, null, null);
        return;
      }
      if (!value || typeof value !== "object") return;
      if ($.isArray(value)) {
        for (var i = 0; i < value.length; i++) walk(value[i], depth + 1);
        return;
      }
      var pointer = own(value, "asset_pointer");
      if (typeof pointer === "string") {
        var parsed = $.exec(POINTER, pointer);
        if (parsed) add(parsed[2], parsed[1], null, own(value, "size_bytes"), null);
      }
      var names = $.keys(value);
      for (var n = 0; n < names.length; n++) walk(value[names[n]], depth + 1);
    }
    function message(m) {
      if (!m || typeof m !== "object") return;
      var attachments = own(own(m, "metadata"), "attachments");
      if ($.isArray(attachments)) {
        for (var i = 0; i < attachments.length; i++) {
          var a = attachments[i];
          var id = own(a, "id");
          if (typeof id === "string") {
            add(id, $.indexOf(id, "file_") === 0 ? "sediment" : "file-service", own(a, "name"), own(a, "size"), own(a, "mime_type"));
          }
        }
      }
      walk(own(m, "content"), 0);
      walk(own(m, "metadata"), 0);
    }
    var mapping = own(body, "mapping");
    if (mapping && typeof mapping === "object") {
      var nodes = $.keys(mapping);
      for (var k = 0; k < nodes.length; k++) message(own(own(mapping, nodes[k]), "message"));
    }
    var records = own(body, "messages");
    if ($.isArray(records)) for (var r = 0; r < records.length; r++) message(own(records[r], "message") || records[r]);
    return refs;
  }

  /** ChatGPT's download-URL lookups for a file, most likely first (format notes, section 1). */
  function downloadLookupPaths(ref, conversationId) {
    var id = $.encode(ref.fileId);
    var cid = $.encode(conversationId);
    var files = "/backend-api/files/download/" + id + "?conversation_id=" + cid + "&inline=false";
    var attachment = "/backend-api/conversation/" + cid + "/attachment/" + id + "/download";
    var legacy = "/backend-api/files/" + id + "/download";
    return ref.scheme === "sediment" ? [attachment, files] : [files, legacy];
  }

  /** Whether a conversation has canvas (textdoc) messages. */
  function hasCanvas(body) {
    function check(m) {
      if (!m || typeof m !== "object") return false;
      if (own(own(m, "metadata"), "canvas")) return true;
      var recipient = own(m, "recipient");
      var author = own(own(m, "author"), "name");
      return (
        (typeof recipient === "string" && $.indexOf(recipient, "canmore.") === 0) ||
        (typeof author === "string" && $.indexOf(author, "canmore.") === 0)
      );
    }
    var mapping = own(body, "mapping");
    if (mapping && typeof mapping === "object") {
      var nodes = $.keys(mapping);
      for (var k = 0; k < nodes.length; k++) if (check(own(own(mapping, nodes[k]), "message"))) return true;
    }
    var records = own(body, "messages");
    if ($.isArray(records)) for (var r = 0; r < records.length; r++) if (check(records[r])) return true;
    return false;
  }

  // ---- retrying ----------------------------------------------------------------------

  /** Seconds from a Retry-After header (delta-seconds or HTTP date), or null. */
  function parseRetryAfter(value, now) {
    if (value === null || value === undefined || value === "") return null;
    var seconds = $.Number(value);
    if ($.isFinite(seconds)) return $.max(0, seconds);
    var date = $.dateParse(value);
    return date !== date ? null : $.max(0, (date - now) / 1000);
  }

  /** Milliseconds to wait before attempt number `attempt` (0-based) after a failure.
   * A server's Retry-After wins; otherwise exponential with jitter, capped. */
  function backoffDelay(attempt, retryAfterSeconds, options) {
    var o = options || {};
    var base = o.base || 2000;
    var cap = o.cap || 10 * 60 * 1000;
    var random = o.random || $.random;
    if (retryAfterSeconds !== null && retryAfterSeconds !== undefined) {
      return $.min(cap, $.max(0, retryAfterSeconds * 1000));
    }
    var exp = $.min(cap, base * $.pow(2, $.min(attempt, 30)));
    return $.round(exp / 2 + (exp / 2) * random());
  }

  /** What to do with a capture after the archive answered `status` (0 = no answer). A 200
   * with {"skipped": true} (the archive's privacy settings refused it) is done too. */
  function postOutcome(status) {
    if (status >= 200 && status < 300) return "done";
    // 401: fix the token; 413: raise the limit; 408/429/5xx/none: later. Keep those.
    if (status === 0 || status === 401 || status === 408 || status === 413 || status === 429) return "retry";
    if (status >= 500) return "retry";
    return "drop"; // 400/422 and friends: the same bytes will never be accepted
  }

  /** A queued item after an attempt ended with `status` at `now`: {outcome, item}; item is the
   * updated copy to keep when the outcome is "retry", else null. */
  function afterAttempt(item, status, now, retryAfterSeconds, options) {
    var outcome = postOutcome(status);
    if (outcome !== "retry") return { outcome: outcome, item: null };
    var updated = {};
    var names = $.keys(item);
    for (var n = 0; n < names.length; n++) updated[names[n]] = item[names[n]];
    updated.attempts = (item.attempts || 0) + 1;
    updated.due = now + backoffDelay(item.attempts || 0, retryAfterSeconds, options);
    updated.error = status ? "HTTP " + status : "archive unreachable";
    updated.claim = null;
    return { outcome: outcome, item: updated };
  }

  // Conversations first: their assets and canvas hang off them on the archive's side.
  var KIND_ORDER = { conversation: 0, textdocs: 1, listed: 2, asset: 3 };

  /** The queued item to work on next: due by `now`, not claimed by another live tab,
   * conversations before the rest, then the earliest due. `items` are [key, item] pairs. */
  function pickDue(items, now, tab) {
    var best = null;
    for (var i = 0; i < items.length; i++) {
      var item = items[i][1];
      if (!item || item.due > now) continue;
      if (item.claim && item.claim.tab !== tab && item.claim.until > now) continue;
      if (
        !best ||
        (KIND_ORDER[item.kind] || 0) < (KIND_ORDER[best[1].kind] || 0) ||
        ((KIND_ORDER[item.kind] || 0) === (KIND_ORDER[best[1].kind] || 0) && item.due < best[1].due)
      ) {
        best = items[i];
      }
    }
    return best;
  }

  /** The item with nothing due later than `latest`. Backoff grows to minutes while the
   * archive is down; when it is back (a post succeeded, or the tab was reloaded) the
   * waiting captures should not sit out the rest of their wait. */
  function bringForward(item, latest) {
    if (!(item.due > latest)) return item;
    var copy = {};
    var names = $.keys(item);
    for (var n = 0; n < names.length; n++) copy[names[n]] = item[names[n]];
    copy.due = latest;
    return copy;
  }

  /** Milliseconds until the next read may start: one start per `interval`. */
  function paceDelay(lastStart, interval, now) {
    if (lastStart === null || lastStart === undefined) return 0;
    return $.max(0, lastStart + interval - now);
  }

  // ---- background sync: one tab at a time --------------------------------------------

  /** The sync lease after tab `tab` looked at it at `now`: {lease, mine}. A lease is held
   * until `until`; its holder renews it with each heartbeat; a lease nobody renewed is free. */
  function leaseAfterHeartbeat(lease, tab, now, ttl) {
    if (lease && lease.tab !== tab && lease.until > now) return { lease: lease, mine: false };
    return { lease: { tab: tab, until: now + ttl }, mine: true };
  }

  /** Whether a sync is due: on, and `minutes` since the last one started. */
  function syncDue(lastSyncStart, now, minutes) {
    if (!(minutes > 0)) return false;
    return !lastSyncStart || now - lastSyncStart >= minutes * 60000;
  }

  /** The conversation list endpoint for a backfill or sync step. */
  function listUrl(offset, limit, archived) {
    return (
      "/backend-api/conversations?offset=" +
      offset +
      "&limit=" +
      limit +
      "&order=updated" +
      (archived ? "&is_archived=true" : "")
    );
  }

  /** Whether the list has more pages after `page` (fetched at `offset`). */
  function listHasMore(page, offset) {
    var items = (page && page.items) || [];
    if (!items.length) return false;
    if (typeof page.total === "number") return offset + items.length < page.total;
    return !!page.cursor || items.length >= (page.limit || items.length);
  }

  function olderPageUrl(id, cursor) {
    return (
      "/backend-api/conversations/" +
      id +
      "/messages?before=" +
      $.encode(cursor) +
      "&include_has_versions=true&num_turns=10"
    );
  }

  return {
    UUID: UUID,
    classify: classify,
    conversationIdFromPath: conversationIdFromPath,
    bodyId: bodyId,
    isTree: isTree,
    isPage: isPage,
    idMatches: idMatches,
    batchRequestIds: batchRequestIds,
    mergePages: mergePages,
    pickAuthHeaders: pickAuthHeaders,
    accountId: accountId,
    fileIdFromPointer: fileIdFromPointer,
    assetRefs: assetRefs,
    downloadLookupPaths: downloadLookupPaths,
    hasCanvas: hasCanvas,
    parseRetryAfter: parseRetryAfter,
    backoffDelay: backoffDelay,
    postOutcome: postOutcome,
    afterAttempt: afterAttempt,
    pickDue: pickDue,
    bringForward: bringForward,
    paceDelay: paceDelay,
    leaseAfterHeartbeat: leaseAfterHeartbeat,
    syncDue: syncDue,
    listUrl: listUrl,
    listHasMore: listHasMore,
    olderPageUrl: olderPageUrl,
  };
})();

if (typeof module !== "undefined" && module.exports) {
  module.exports = ArchiverCore;
} else {
  archiverMain(ArchiverCore);
}

// ---------------------------------------------------------------------------------------
// Glue: runs in the browser only.

/** Private copies of every page built-in the hook and our reads use, taken at document-start
 * before any page script runs (issue 12.5). Methods are called through uncurried references
 * (bound to the original Function.prototype.call), so replacing Response.prototype.clone,
 * JSON.parse, Function.prototype.call/apply, Promise.prototype.then or window.fetch later
 * changes nothing we do. Getters read the internal slots of real Responses and Requests: a
 * look-alike object fails their brand check instead of being believed. */
function privateCopies(page) {
  var FP = Function.prototype;
  var uncurry = FP.bind.bind(FP.call);
  function getter(proto, name) {
    return uncurry(Object.getOwnPropertyDescriptor(proto, name).get);
  }
  var R = page.Response.prototype;
  var Q = page.Request.prototype;
  var H = page.Headers.prototype;
  return {
    apply: uncurry(FP.apply), // apply(fn, self, args)
    fetch: page.fetch,
    clone: uncurry(R.clone),
    text: uncurry(R.text),
    arrayBuffer: uncurry(R.arrayBuffer),
    ok: getter(R, "ok"),
    status: getter(R, "status"),
    responseUrl: getter(R, "url"),
    responseHeaders: getter(R, "headers"),
    responseBody: getter(R, "body"),
    requestUrl: getter(Q, "url"),
    requestMethod: getter(Q, "method"),
    requestHeaders: getter(Q, "headers"),
    headerGet: uncurry(H.get),
    headersForEach: uncurry(H.forEach),
    getReader: uncurry(page.ReadableStream.prototype.getReader),
    readChunk: uncurry(page.ReadableStreamDefaultReader.prototype.read),
    TextDecoder: page.TextDecoder,
    decode: uncurry(page.TextDecoder.prototype.decode),
    then: uncurry(page.Promise.prototype.then), // on the page's promises (fetch, text)
    ownThen: uncurry(Promise.prototype.then),
    Promise: Promise,
    parse: JSON.parse,
    stringify: JSON.stringify,
    String: String,
    keys: Object.keys,
    hasOwn: uncurry(Object.prototype.hasOwnProperty),
    indexOf: uncurry(String.prototype.indexOf),
    isArray: Array.isArray,
    encode: encodeURIComponent,
    URL: page.URL,
    urlHref: getter(page.URL.prototype, "href"),
    urlHost: getter(page.URL.prototype, "hostname"),
    random: Math.random,
    history: { push: page.history.pushState, replace: page.history.replaceState },
    idle: typeof page.requestIdleCallback === "function" ? page.requestIdleCallback : null,
  };
}

function archiverMain(core) {
  var page = typeof unsafeWindow !== "undefined" ? unsafeWindow : window;
  if (page.__chatgptArchiver) return; // pasted twice, or both snippet and userscript
  var safe = privateCopies(page);
  // The manager's functions, kept before any page script could see or replace them.
  var GM = {
    xhr: typeof GM_xmlhttpRequest === "function" ? GM_xmlhttpRequest : null,
    get: typeof GM_getValue === "function" ? GM_getValue : null,
    set: typeof GM_setValue === "function" ? GM_setValue : null,
    del: typeof GM_deleteValue === "function" ? GM_deleteValue : null,
    list: typeof GM_listValues === "function" ? GM_listValues : null,
    menu: typeof GM_registerMenuCommand === "function" ? GM_registerMenuCommand : null,
    listen: typeof GM_addValueChangeListener === "function" ? GM_addValueChangeListener : null,
  };
  var server = ARCHIVER_SERVER.indexOf("__") === 0 ? "http://127.0.0.1:8001" : ARCHIVER_SERVER;
  server = server.replace(/\/+$/, "");
  var originalFetch = safe.fetch;
  var TAB = "tab-" + Date.now().toString(36) + "-" + safe.random().toString(36).slice(2, 10);
  var MiB = 1024 * 1024;
  function noop() {}

  // ---- storage ------------------------------------------------------------------------
  // The manager's storage, shared by every chatgpt.com tab. The console snippet has none: it
  // keeps everything in this closure (a pasted snippet ends with its tab anyway), never in
  // the page's localStorage, where a page script could add captures for it to post.
  var memory = {};
  var useGM = !!(GM.get && GM.set && GM.del && GM.list);
  var store = {
    get: function (key, fallback) {
      try {
        if (useGM) {
          var value = GM.get(key, fallback);
          return value === undefined ? fallback : value;
        }
        return safe.hasOwn(memory, key) ? memory[key] : fallback;
      } catch (e) {
        return fallback;
      }
    },
    set: function (key, value) {
      try {
        if (useGM) GM.set(key, value);
        else memory[key] = value;
      } catch (e) {
        status.error = "storage full: " + e.message;
      }
    },
    del: function (key) {
      try {
        if (useGM) GM.del(key);
        else delete memory[key];
      } catch (e) {
        // nothing to do
      }
    },
    keys: function () {
      try {
        return useGM ? GM.list() : safe.keys(memory);
      } catch (e) {
        return [];
      }
    },
  };

  var status = { saved: 0, skipped: 0, assets: 0, tooLarge: 0, textdocs: 0, dropped: 0, error: null, backfill: null };
  var auth = {}; // this tab's latest page headers: never another tab's account
  var archivedTimes = store.get("archivedTimes", {});
  var pace = Number(store.get("paceMs", 1000));
  var lastRead = store.get("lastRead", null); // kept across reloads, so a reload cannot break the pace
  var lastCaptureAt = {}; // conversation id -> time a tree or page of it was seen
  var authWaiters = [];

  function token() {
    if (ARCHIVER_TOKEN.indexOf("__") !== 0) return ARCHIVER_TOKEN;
    return store.get("token", "");
  }

  // ---- the queue: one storage key per item ----------------------------------------------
  // Several tabs enqueue and flush at once. Each item has its own key ("q:<kind>:<id>") and
  // its body another ("b:<stamp>"), every change re-reads the key first, and an item is
  // removed only if it is still the one that was sent: a tab never writes back a stale copy
  // of the whole queue, so no tab can lose another's captures. A claim keeps two tabs from
  // posting the same item at once.

  var stamps = 0;
  function queued() {
    var keys = store.keys();
    var items = [];
    for (var i = 0; i < keys.length; i++) {
      if (safe.indexOf(keys[i], "q:") !== 0) continue;
      var item = store.get(keys[i], null);
      if (item && typeof item === "object") items[items.length] = [keys[i], item];
    }
    return items;
  }

  function put(key, item, body) {
    var old = store.get(key, null);
    item.stamp = TAB + "-" + ++stamps + "-" + Date.now();
    item.attempts = 0;
    item.due = item.due || 0;
    item.error = null;
    item.claim = null;
    item.hasBody = body !== undefined && body !== null;
    if (item.hasBody) store.set("b:" + item.stamp, body);
    store.set(key, item);
    if (old && old.hasBody) store.del("b:" + old.stamp); // replaced: the newer one holds it all
  }

  /** Remove the item at `key` if it is still the one with `stamp` (a newer one stays). */
  function finish(key, stamp, hadBody) {
    var now = store.get(key, null);
    if (now && now.stamp === stamp) store.del(key);
    if (hadBody) store.del("b:" + stamp);
  }

  function keep(key, updated) {
    var now = store.get(key, null);
    if (now && now.stamp === updated.stamp) store.set(key, updated);
  }

  /** Claim an item for this tab; resolves true if, a moment later, the claim is still ours. */
  function claim(key, item) {
    var now = store.get(key, null);
    if (!now || now.stamp !== item.stamp) return Promise.resolve(false);
    if (now.claim && now.claim.tab !== TAB && now.claim.until > Date.now()) return Promise.resolve(false);
    now.claim = { tab: TAB, until: Date.now() + 120000 };
    store.set(key, now);
    return new Promise(function (resolve) {
      setTimeout(function () {
        var after = store.get(key, null);
        resolve(!!after && after.stamp === item.stamp && !!after.claim && after.claim.tab === TAB ? after : false);
      }, 30);
    });
  }

  function migrateOldQueue() {
    // 0.1 kept one array under "queue": move it to per-item keys once.
    var old = store.get("queue", null);
    if (!old || !old.length) return;
    for (var i = 0; i < old.length; i++) {
      var q = old[i];
      if (q && q.conversationId && q.body) {
        put("q:conversation:" + q.conversationId + ":" + q.shape, {
          kind: "conversation", id: q.conversationId, shape: q.shape, account: null,
        }, q.body);
      }
    }
    store.del("queue");
  }

  function sweepBodies() {
    // Bodies whose item is gone (a tab closed between two writes) would fill the storage.
    var keys = store.keys();
    var live = {};
    var items = queued();
    for (var i = 0; i < items.length; i++) live["b:" + items[i][1].stamp] = true;
    var cutoff = Date.now() - 60000;
    for (var k = 0; k < keys.length; k++) {
      if (safe.indexOf(keys[k], "b:") !== 0 || live[keys[k]]) continue;
      var made = Number(keys[k].split("-").pop());
      if (!(made > cutoff)) store.del(keys[k]);
    }
  }

  // ---- posting to the archive -------------------------------------------------------

  function gmRequest(options) {
    return new Promise(function (resolve) {
      GM.xhr({
        method: options.method,
        url: options.url,
        headers: options.headers || {},
        data: options.data,
        responseType: options.responseType,
        anonymous: !!options.anonymous,
        timeout: options.timeout || 120000,
        onload: function (r) {
          resolve({
            status: r.status,
            text: options.responseType ? "" : r.responseText,
            response: options.responseType ? r.response : null,
            headers: r.responseHeaders || "",
          });
        },
        onprogress: options.limit
          ? function (e) {
              if ((e.total || 0) > options.limit || (e.loaded || 0) > options.limit) this.abort && this.abort();
            }
          : undefined,
        onabort: function () {
          resolve({ status: 0, text: "", response: null, headers: "", aborted: true });
        },
        onerror: function () {
          resolve({ status: 0, text: "", response: null, headers: "" });
        },
        ontimeout: function () {
          resolve({ status: 0, text: "", response: null, headers: "" });
        },
      });
    });
  }

  /** A request to the archive with the token. `body` is a string or an ArrayBuffer. */
  function send(method, path, body, contentType) {
    var headers = { Authorization: "Bearer " + token(), "Content-Type": contentType || "application/json" };
    if (GM.xhr) {
      return gmRequest({ method: method, url: server + path, headers: headers, data: body }).then(function (r) {
        return { status: r.status, text: r.text, retryAfter: header(r.headers, "retry-after") };
      });
    }
    // The console snippet: page fetch, no cookies (they would make it a CSRF-shaped request).
    return new Promise(function (resolve) {
      var done = function () {
        resolve({ status: 0, text: "", retryAfter: null });
      };
      safe.then(
        safe.apply(originalFetch, page, [server + path, { method: method, headers: headers, body: body, credentials: "omit", mode: "cors" }]),
        function (r) {
          safe.then(
            safe.text(r),
            function (text) {
              resolve({ status: safe.status(r), text: text, retryAfter: safe.headerGet(safe.responseHeaders(r), "retry-after") });
            },
            done
          );
        },
        done
      );
    });
  }

  function header(raw, name) {
    var match = new RegExp("^" + name + ":\\s*(.*)$", "im").exec(raw || "");
    return match ? match[1].trim() : null;
  }

  function errorText(text) {
    try {
      return ": " + JSON.parse(text).error;
    } catch (e) {
      return "";
    }
  }

  // ---- capturing ----------------------------------------------------------------------

  /** Queue one conversation snapshot, then its files and canvas documents. */
  function capture(conversationId, shape, text, account, body) {
    put("q:conversation:" + conversationId + ":" + shape, { kind: "conversation", id: conversationId, shape: shape, account: account }, text);
    try {
      queueAssets(conversationId, body, account);
      if (core.hasCanvas(body)) queueTextdocs(conversationId, null, account);
    } catch (e) {
      // a body we cannot walk still gets archived
    }
    badge.render();
    flush();
  }

  var assetsKnown = {}; // file id -> true once the archive has it (or it was given up on)
  function queueAssets(conversationId, body, account) {
    var refs = core.assetRefs(body);
    for (var i = 0; i < refs.length; i++) {
      var ref = refs[i];
      var key = "q:asset:" + ref.fileId;
      if (assetsKnown[ref.fileId] || store.get(key, null)) continue;
      put(key, {
        kind: "asset", id: ref.fileId, conversationId: conversationId, scheme: ref.scheme,
        name: ref.name, size: ref.size, mime: ref.mime, account: account, checked: false,
      });
    }
  }

  function queueTextdocs(conversationId, text, account) {
    var key = "q:textdocs:" + conversationId;
    var existing = store.get(key, null);
    if (text === null && existing) return; // one read is queued already, or a body we saw
    put(key, { kind: "textdocs", id: conversationId, account: account }, text);
  }

  // ---- flushing the queue -------------------------------------------------------------

  var flushing = false;
  var flushTimer = null;
  var archiveWasDown = false;
  function flush() {
    if (flushing || store.get("paused", false)) return;
    var items = queued();
    var pick = core.pickDue(items, Date.now(), TAB);
    if (!pick) {
      scheduleFlush(items);
      return;
    }
    if (!token()) {
      status.error = "no token: use the menu to set your archive token";
      badge.render();
      return;
    }
    flushing = true;
    claim(pick[0], pick[1])
      .then(function (item) {
        if (item) return work(pick[0], item);
      })
      .then(
        function () {
          flushing = false;
          badge.render();
          flush();
        },
        function (e) {
          flushing = false;
          status.error = String((e && e.message) || e);
          badge.render();
          flush();
        }
      );
  }

  function scheduleFlush(items) {
    // Always re-aimed at the earliest due item: a capture failing now with a short backoff
    // must not wait behind a timer set for one that has been failing for minutes.
    clearTimeout(flushTimer);
    flushTimer = null;
    if (!items.length) return;
    var wait = Infinity;
    for (var i = 0; i < items.length; i++) {
      var item = items[i][1];
      var at = item.claim && item.claim.tab !== TAB ? Math.max(item.due, item.claim.until) : item.due;
      wait = Math.min(wait, at - Date.now());
    }
    flushTimer = setTimeout(function () {
      flushTimer = null;
      flush();
    }, Math.max(250, Math.min(wait, 10 * 60 * 1000)));
  }

  function work(key, item) {
    if (item.kind === "conversation") {
      var body = store.get("b:" + item.stamp, null);
      if (body === null) return finish(key, item.stamp, false);
      var query = "?account_id=" + encodeURIComponent(item.account || core.accountId(auth));
      return send("POST", "/api/conversations" + query, body).then(function (r) {
        var skipped = false;
        try {
          skipped = r.status === 200 && JSON.parse(r.text).skipped === true;
        } catch (e) {
          skipped = false;
        }
        if (skipped) {
          status.skipped += 1;
          forgetParts(item.id); // the archive will not keep this conversation's files or canvas either
        } else if (r.status >= 200 && r.status < 300) status.saved += 1;
        settle(key, item, r);
      });
    }
    if (item.kind === "textdocs") return postTextdocs(key, item);
    if (item.kind === "listed") {
      var listed = store.get("b:" + item.stamp, null);
      if (listed === null) return finish(key, item.stamp, false);
      return send("POST", "/api/conversations/listed", listed).then(function (r) {
        settle(key, item, r);
      });
    }
    if (item.kind === "asset") return archiveAsset(key, item);
    return finish(key, item.stamp, item.hasBody);
  }

  function forgetParts(conversationId) {
    var items = queued();
    for (var i = 0; i < items.length; i++) {
      var item = items[i][1];
      if ((item.kind === "asset" && item.conversationId === conversationId) || (item.kind === "textdocs" && item.id === conversationId)) {
        if (item.kind === "asset") assetsKnown[item.id] = true;
        finish(items[i][0], item.stamp, item.hasBody);
      }
    }
  }

  /** Bookkeeping after the archive answered `r` about `item`. */
  function settle(key, item, r, outcomeFor) {
    var now = Date.now();
    var result = core.afterAttempt(item, outcomeFor ? outcomeFor(r.status) : r.status, now, core.parseRetryAfter(r.retryAfter, now));
    if (result.outcome === "retry") {
      keep(key, result.item);
      status.error = r.status ? "archive answered " + r.status + errorText(r.text) : "archive unreachable";
      archiveWasDown = true;
      return result.outcome;
    }
    finish(key, item.stamp, item.hasBody);
    if (result.outcome === "drop") {
      status.error = "archive refused " + item.kind + " " + String(item.id).slice(0, 12) + ": HTTP " + r.status + errorText(r.text);
    } else if (archiveWasDown) {
      // The archive is back: what waits is sent now, not at the end of its backoff.
      archiveWasDown = false;
      status.error = null;
      var items = queued();
      for (var i = 0; i < items.length; i++) {
        var forward = core.bringForward(items[i][1], now);
        if (forward !== items[i][1]) keep(items[i][0], forward);
      }
    } else {
      status.error = null;
    }
    return result.outcome;
  }

  /** The archive keeps files and canvas only beside a conversation it holds, and answers 409
   * until it has it. The conversation goes first in the queue, so a 409 is retried a few times,
   * then given up. */
  function untilPosted(item) {
    return function (code) {
      return code === 409 && (item.attempts || 0) < 8 ? 503 : code;
    };
  }

  // ---- canvas ----------------------------------------------------------------------------

  function postTextdocs(key, item) {
    var body = item.hasBody ? store.get("b:" + item.stamp, null) : null;
    var got = body !== null ? Promise.resolve(body) : readText("/backend-api/conversation/" + item.id + "/textdocs");
    return got.then(
      function (text) {
        var docs;
        try {
          docs = safe.parse(text);
        } catch (e) {
          docs = null;
        }
        if (!safe.isArray(docs) || !docs.length) return finish(key, item.stamp, item.hasBody); // no canvas
        return send("POST", "/api/textdocs?conversation_id=" + encodeURIComponent(item.id), text).then(function (r) {
          if (settle(key, item, r, untilPosted(item)) === "done") status.textdocs += 1;
        });
      },
      function (e) {
        return chatgptFailed(key, item, e);
      }
    );
  }

  /** A read from ChatGPT failed for a queued item: gone (404/403) drops it, else later. */
  function chatgptFailed(key, item, e) {
    var code = (e && e.status) || 0;
    if (code === 404 || code === 403 || code === 410 || (item.attempts || 0) >= 8) {
      assetsKnown[item.id] = item.kind === "asset";
      finish(key, item.stamp, item.hasBody);
      return;
    }
    var result = core.afterAttempt(item, 0, Date.now(), null);
    result.item.error = "ChatGPT: " + ((e && e.message) || "read failed");
    keep(key, result.item);
  }

  // ---- files: uploads, generated images, code-interpreter output ---------------------------

  function maxAssetBytes() {
    return Number(store.get("maxAssetMiB", 50)) * MiB;
  }

  /** Ask the archive which queued files it lacks (one request for up to 100); the rest leave
   * the queue. Resolves whether `item` is wanted. */
  function checkWanted(item) {
    var items = queued();
    var batch = [];
    for (var i = 0; i < items.length && batch.length < 100; i++) {
      if (items[i][1].kind === "asset" && !items[i][1].checked) batch[batch.length] = items[i];
    }
    var ids = batch.map(function (pair) {
      return pair[1].id;
    });
    if (ids.indexOf(item.id) < 0) ids.push(item.id);
    return send("POST", "/api/assets/wanted", JSON.stringify({ file_ids: ids })).then(function (r) {
      if (r.status !== 200) return r;
      var wanted = {};
      try {
        (JSON.parse(r.text).wanted || []).forEach(function (id) {
          wanted[id] = true;
        });
      } catch (e) {
        return { status: 502, text: "", retryAfter: null };
      }
      batch.forEach(function (pair) {
        if (pair[1].stamp === item.stamp) return;
        if (wanted[pair[1].id]) keep(pair[0], Object.assign({}, pair[1], { checked: true }));
        else {
          assetsKnown[pair[1].id] = true;
          finish(pair[0], pair[1].stamp, false);
        }
      });
      return { wanted: !!wanted[item.id] };
    });
  }

  function archiveAsset(key, item) {
    var checked = item.checked ? Promise.resolve({ wanted: true }) : checkWanted(item);
    return checked.then(function (answer) {
      if (answer.status !== undefined) return settle(key, item, answer); // the archive is down
      if (!answer.wanted) {
        assetsKnown[item.id] = true;
        return finish(key, item.stamp, false);
      }
      item = Object.assign({}, item, { checked: true });
      keep(key, item);
      if (item.size !== null && item.size > maxAssetBytes()) return giveUp(key, item, "larger than the limit");
      return lookUp(item)
        .then(function (found) {
          return download(found, item).then(function (file) {
            var name = item.name || found.file_name || item.id;
            var mime = item.mime || found.mime_type || file.type || "application/octet-stream";
            var path =
              "/api/assets?file_id=" + encodeURIComponent(item.id) +
              "&conversation_id=" + encodeURIComponent(item.conversationId) +
              "&name=" + encodeURIComponent(name);
            return send("POST", path, file.bytes, mime).then(function (r) {
              // 413: above the archive's own per-file limit; trying again will not help.
              var outcome = settle(key, item, r, function (code) {
                return code === 413 ? 400 : untilPosted(item)(code);
              });
              if (outcome === "done") {
                status.assets += 1;
                assetsKnown[item.id] = true;
              }
            });
          });
        })
        .catch(function (e) {
          if (e && e.tooLarge) return giveUp(key, item, "larger than the limit");
          return chatgptFailed(key, item, e);
        });
    });
  }

  function giveUp(key, item, why) {
    assetsKnown[item.id] = true;
    status.tooLarge += 1;
    status.error = "file " + item.id.slice(0, 14) + " not archived: " + why;
    finish(key, item.stamp, false);
  }

  /** ChatGPT's download-URL lookup, with the page's headers: {download_url, file_name, mime_type}. */
  function lookUp(item) {
    var paths = core.downloadLookupPaths({ fileId: item.id, scheme: item.scheme }, item.conversationId);
    var lastError = null;
    function attempt(i) {
      if (i >= paths.length) return Promise.reject(lastError);
      return read(paths[i]).then(function (r) {
        if (safe.status(r) !== 200) {
          lastError = httpError(safe.status(r));
          return attempt(i + 1);
        }
        return safe.then(safe.text(r), function (text) {
          var found = safe.parse(text);
          if (!found || typeof found.download_url !== "string" || !found.download_url) {
            lastError = httpError(404);
            return attempt(i + 1);
          }
          return found;
        });
      });
    }
    return attempt(0);
  }

  function httpError(code) {
    var e = new Error("HTTP " + code);
    e.status = code;
    return e;
  }

  /** The file's bytes from its signed URL. A signed URL on another host (the CDN) is fetched
   * by the manager with no credentials at all: no Authorization, no cookies. */
  function download(found, item) {
    var limit = Math.min(maxAssetBytes(), item.size !== null && item.size >= 0 ? Math.max(item.size, 1) * 2 + MiB : Infinity);
    var url = new safe.URL(found.download_url, page.location.href);
    var host = safe.urlHost(url);
    var sameSite = host === "chatgpt.com" || host === "chat.openai.com";
    // Signed URLs are https, on ChatGPT's own hosts or its file CDN (the @connect list): a URL
    // elsewhere is refused, not fetched.
    var cdn = /(^|\.)(oaiusercontent\.com|openai\.com)$/.test(host);
    if (safe.indexOf(safe.urlHref(url), "https://") !== 0 || !(sameSite || cdn)) return Promise.reject(httpError(403));
    return paced().then(function () {
      if (!sameSite && GM.xhr) {
        return gmRequest({ method: "GET", url: safe.urlHref(url), anonymous: true, responseType: "arraybuffer", limit: limit })
          .then(function (r) {
            if (r.aborted) throw { tooLarge: true };
            if (r.status !== 200 || !r.response) throw httpError(r.status || 0);
            if (r.response.byteLength > limit) throw { tooLarge: true };
            return { bytes: r.response, type: header(r.headers, "content-type") };
          });
      }
      // ChatGPT's own host (or the snippet, which has only fetch): the page's fetch; a bearer
      // token goes only to ChatGPT itself.
      var init = sameSite
        ? { method: "GET", headers: auth, credentials: "include" }
        : { method: "GET", credentials: "omit", mode: "cors" };
      var fetched = new Promise(function (resolve, reject) {
        safe.then(safe.apply(originalFetch, page, [safe.urlHref(url), init]), resolve, function () {
          // The snippet cannot reach a CDN that does not allow it (CORS, CSP): no use retrying.
          reject(httpError(sameSite ? 0 : 403));
        });
      });
      return fetched.then(function (r) {
        if (safe.status(r) !== 200) throw httpError(safe.status(r));
        return new Promise(function (resolve, reject) {
          safe.then(safe.arrayBuffer(r), function (bytes) {
            if (bytes.byteLength > limit) reject({ tooLarge: true });
            else resolve({ bytes: bytes, type: safe.headerGet(safe.responseHeaders(r), "content-type") });
          }, reject);
        });
      });
    });
  }

  // ---- reading from ChatGPT, as the page does ----------------------------------------

  function whenAuthorised() {
    if (auth.authorization) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      authWaiters.push({ resolve: resolve, reject: reject });
      // No authorised request from the page yet: ask for the session, as the app does.
      safe.then(
        safe.apply(originalFetch, page, ["/api/auth/session", { credentials: "include" }]),
        function (r) {
          if (safe.status(r) !== 200) return sessionAnswer(null);
          safe.then(
            safe.text(r),
            function (text) {
              var session = null;
              try {
                session = safe.parse(text);
              } catch (e) {
                session = null;
              }
              sessionAnswer(session);
            },
            function () {
              sessionAnswer(null);
            }
          );
        },
        function () {
          sessionAnswer(null);
        }
      );
    });
  }

  function sessionAnswer(session) {
    if (session && typeof session.accessToken === "string" && session.accessToken) {
      if (!auth.authorization) learnAuth({ authorization: "Bearer " + session.accessToken });
    } else if (!auth.authorization) {
      authWaiters.splice(0).forEach(function (w) {
        w.reject(new Error("not signed in to ChatGPT"));
      });
    }
  }

  /** The page's headers replace ours whole: a workspace or project switch drops the old
   * ChatGPT-Account-Id / ChatGPT-Project-Id instead of keeping it next to the new token. */
  function learnAuth(headers) {
    if (!headers.authorization) return;
    var a = safe.keys(headers);
    var b = safe.keys(auth);
    var changed = a.length !== b.length;
    for (var i = 0; i < a.length && !changed; i++) changed = auth[a[i]] !== headers[a[i]];
    if (!changed) return;
    auth = headers;
    authWaiters.splice(0).forEach(function (w) {
      w.resolve();
    });
  }

  /** Resolves when the next read may start: one start per `pace`, shared by every tab, and
   * no start before a Retry-After ChatGPT asked for. The slot is reserved at once, so
   * readers asking together (a sync, a backfill, a file) line up instead of starting together. */
  function paced() {
    var now = Date.now();
    var last = Math.max(lastRead || 0, store.get("lastRead", 0) || 0);
    var slot = Math.max(now, last ? last + pace : now, store.get("readNotBefore", 0) || 0);
    lastRead = slot;
    store.set("lastRead", slot);
    return new Promise(function (resolve) {
      setTimeout(function () {
        // A timer that fired late moves the next slot too: starts stay `pace` apart.
        var started = Date.now();
        if (started > Math.max(lastRead, store.get("lastRead", 0) || 0)) {
          lastRead = started;
          store.set("lastRead", started);
        }
        resolve();
      }, Math.max(0, slot - now));
    });
  }

  /** A paced, read-only GET against ChatGPT with the page's headers; waits out 429s. */
  function read(path, attempt) {
    attempt = attempt || 0;
    return whenAuthorised()
      .then(paced)
      .then(function () {
        return new Promise(function (resolve, reject) {
          safe.then(safe.apply(originalFetch, page, [path, { method: "GET", headers: auth, credentials: "include" }]), resolve, reject);
        });
      })
      .then(function (r) {
        var code = safe.status(r);
        if (code === 429 && attempt < 8) {
          var retry = safe.headerGet(safe.responseHeaders(r), "retry-after");
          var delay = core.backoffDelay(attempt, core.parseRetryAfter(retry, Date.now()));
          store.set("readNotBefore", Date.now() + delay);
          status.error = "ChatGPT rate limit: waiting " + Math.round(delay / 1000) + " s";
          badge.render();
          return read(path, attempt + 1).then(function (retried) {
            status.error = null;
            return retried;
          });
        }
        if (code === 401 && attempt === 0) {
          auth = {}; // the access token expired: learn a fresh one
          return read(path, attempt + 1);
        }
        return r;
      });
  }

  function readText(path) {
    return read(path).then(function (r) {
      if (!safe.ok(r)) throw httpError(safe.status(r));
      return new Promise(function (resolve, reject) {
        safe.then(safe.text(r), resolve, reject);
      });
    });
  }

  function readJson(path) {
    return readText(path).then(function (text) {
      return safe.parse(text);
    });
  }

  var fetching = {};
  /** The full tree from the singular endpoint; the paged messages if that read fails. */
  function archiveConversation(id) {
    if (fetching[id]) return fetching[id];
    var account = core.accountId(auth);
    fetching[id] = readText("/backend-api/conversation/" + id)
      .then(function (text) {
        var tree = safe.parse(text);
        if (!core.idMatches("tree", id, tree)) throw new Error("not the tree asked for");
        rememberTree(id, tree);
        capture(id, "tree", text, account, tree);
      })
      .catch(function () {
        return archivePages(id, account);
      })
      .then(
        function () {
          delete fetching[id];
        },
        function (e) {
          delete fetching[id];
          status.error = "could not read conversation " + id.slice(0, 8) + ": " + e.message;
          badge.render();
        }
      );
    return fetching[id];
  }

  function archivePages(id, account) {
    var pages = [];
    var cursors = {};
    function next(path) {
      return readJson(path).then(function (pageBody) {
        if (!core.isPage(pageBody)) throw new Error("unexpected page shape");
        if (!pages.length && !core.idMatches("page", id, pageBody)) throw new Error("not the conversation asked for");
        pages.push(pageBody);
        var info = pageBody.page_info || {};
        if (info.has_previous_page && info.start_cursor && !cursors[info.start_cursor] && pages.length < 500) {
          cursors[info.start_cursor] = true;
          return next(core.olderPageUrl(id, info.start_cursor));
        }
      });
    }
    return next("/backend-api/conversations/" + id + "?include_has_versions=true&num_turns=10").then(function () {
      var merged = core.mergePages(pages);
      rememberTree(id, merged);
      capture(id, "page", safe.stringify(merged), account, merged);
    });
  }

  function rememberTree(id, body) {
    archivedTimes[id] = body.update_time;
    lastCaptureAt[id] = Date.now();
    var stored = store.get("archivedTimes", {});
    stored[id] = body.update_time;
    store.set("archivedTimes", stored);
  }

  // ---- the fetch hook ----------------------------------------------------------------

  function own(object, key) {
    return object !== null && typeof object === "object" && safe.hasOwn(object, key) ? object[key] : undefined;
  }

  /** What the page asked for, read once and through private copies: {url, method, headers,
   * body, input}. `input` is what we hand to fetch: the URL string we classified, so an
   * object whose toString answers differently each time cannot split the two. */
  function describe(input, init) {
    var isRequest = false;
    var url;
    try {
      url = safe.requestUrl(input); // a real Request (the getter checks)
      isRequest = true;
    } catch (e) {
      url = typeof input === "string" ? input : safe.String(input);
    }
    var method = own(init, "method");
    var headers = own(init, "headers");
    if (isRequest) {
      if (method === undefined) method = safe.requestMethod(input);
      if (headers === undefined) headers = safe.requestHeaders(input);
    }
    return { url: url, method: method || "GET", headers: headers || null, body: own(init, "body"), input: isRequest ? input : url };
  }

  function observe(request, promise) {
    if (safe.indexOf(request.url, "/backend-api/") < 0) return;
    var headers = core.pickAuthHeaders(request.headers, safe.headersForEach);
    learnAuth(headers);
    var base = page.location.href;
    var target = core.classify(request.method, request.url, base);
    if (!target) return;
    var account = core.accountId(headers.authorization ? headers : auth);
    safe.then(promise, function (response) {
      var copy;
      try {
        if (!safe.ok(response)) return;
        // Believe only what ChatGPT answered at that address: the response's own URL (an
        // internal slot) must name the same route and id as the request.
        var landed = core.classify(request.method, safe.responseUrl(response), base);
        if (!landed || landed.kind !== target.kind || landed.id !== target.id) {
          status.dropped += 1;
          return;
        }
        copy = safe.clone(response); // now, before the page reads the body
      } catch (e) {
        return; // not a real Response
      }
      if (target.kind === "send") return onReply(request, copy);
      // Our work waits until the page is idle: the page's own code goes first.
      whenIdle(function () {
        safe.then(
          safe.text(copy),
          function (text) {
            try {
              onBody(target, text, account, request);
            } catch (e) {
              // never throw into the page
            }
          },
          noop
        );
      });
    }, noop);
  }

  function whenIdle(fn) {
    if (safe.idle) safe.apply(safe.idle, page, [fn, { timeout: 2000 }]);
    else setTimeout(fn, 0);
  }

  function onBody(target, text, account, request) {
    var body = safe.parse(text);
    if (target.kind === "tree") {
      if (!core.idMatches("tree", target.id, body)) return mismatch();
      rememberTree(target.id, body);
      capture(target.id, "tree", text, account, body); // the bytes exactly as ChatGPT sent them
    } else if (target.kind === "batch" && safe.isArray(body)) {
      var asked = core.batchRequestIds(typeof request.body === "string" ? request.body : "");
      for (var i = 0; i < body.length; i++) {
        var tree = body[i];
        if (!core.idMatches("batch", null, tree, asked)) {
          mismatch();
          continue;
        }
        var id = core.bodyId(tree);
        rememberTree(id, tree);
        capture(id, "tree", safe.stringify(tree), account, tree);
      }
    } else if (target.kind === "page" && core.isPage(body)) {
      if (!core.idMatches("page", target.id, body)) return mismatch();
      // The app's paged read holds one branch; fetch the whole tree once per update_time.
      lastCaptureAt[target.id] = Date.now();
      if (archivedTimes[target.id] !== body.update_time) archiveConversation(target.id);
    } else if (target.kind === "textdocs" && safe.isArray(body) && body.length) {
      queueTextdocs(target.id, text, account);
      flush();
    }
  }

  function mismatch() {
    status.dropped += 1;
    badge.render();
  }

  function onReply(request, copy) {
    var id = null;
    try {
      id = own(safe.parse(request.body), "conversation_id") || null;
    } catch (e) {
      id = null;
    }
    var stream = safe.responseBody(copy);
    if (!stream) return;
    var reader = safe.getReader(stream);
    var decoder = new safe.TextDecoder();
    var text = "";
    var finished = Date.now();
    var idPattern = new RegExp('"conversation_id"\\s*:\\s*"(' + core.UUID + ')"');
    function pump() {
      return new Promise(function (resolve, reject) {
        safe.then(safe.readChunk(reader), resolve, reject);
      }).then(function (chunk) {
        if (chunk.done) return;
        if (!id) {
          text += safe.decode(decoder, chunk.value, { stream: true });
          var match = idPattern.exec(text);
          if (match) id = match[1];
          if (text.length > 65536) text = text.slice(-4096);
        }
        return pump();
      });
    }
    pump()
      .then(function () {
        finished = Date.now();
        // The app usually re-reads the finished tree itself (conversations/batch); only read
        // it ourselves if that did not happen soon after the stream ended.
        return new Promise(function (resolve) {
          setTimeout(resolve, 2000);
        });
      })
      .then(function () {
        if (id && !((lastCaptureAt[id] || 0) >= finished)) archiveConversation(id);
      })
      .catch(noop);
  }

  page.fetch = function (input, init) {
    var args = arguments;
    var request = null;
    try {
      request = describe(input, init);
      if (request.input !== input) {
        args = [request.input];
        for (var i = 1; i < arguments.length; i++) args[i] = arguments[i];
      }
    } catch (e) {
      request = null; // leave the call exactly as the page made it
    }
    // The page's own call: same arguments, same receiver, same promise.
    var promise = safe.apply(originalFetch, this === undefined || this === page || this === window ? page : this, args);
    try {
      if (request) observe(request, promise);
    } catch (e) {
      // never throw into the page
    }
    return promise;
  };

  // ---- navigation: opening /c/<id> ----------------------------------------------------

  var lastPath = null;
  function onNavigate() {
    var path = page.location.pathname;
    if (path === lastPath) return;
    lastPath = path;
    var id = core.conversationIdFromPath(path);
    if (!id) return;
    var opened = Date.now();
    // Normally the app's paged read follows and triggers the archive; if it did not, read it.
    setTimeout(function () {
      if ((lastCaptureAt[id] || 0) < opened && page.location.pathname === path) archiveConversation(id);
    }, 3000);
  }
  [["pushState", safe.history.push], ["replaceState", safe.history.replace]].forEach(function (pair) {
    var original = pair[1];
    page.history[pair[0]] = function () {
      var result = safe.apply(original, this, arguments);
      try {
        onNavigate();
      } catch (e) {
        // never throw into the page
      }
      return result;
    };
  });
  page.addEventListener("popstate", onNavigate);

  // ---- backfill: archive all -----------------------------------------------------------

  function askWanted(items) {
    var known = Object.keys(items).map(function (id) {
      return { id: id, update_time: items[id] };
    });
    return send("POST", "/api/conversations/wanted", JSON.stringify({ conversations: known })).then(function (r) {
      if (r.status !== 200) throw new Error("archive answered " + r.status + errorText(r.text));
      return JSON.parse(r.text).wanted;
    });
  }

  function archiveAll() {
    var state = store.get("backfill", null);
    if (!state || state.finished) {
      state = {
        phase: "list", offset: 0, archived: false, items: {}, projects: null, pending: [], done: 0, total: 0,
        complete: true,
      };
    }
    state.finished = false;
    store.set("backfill", state);
    return runBackfill(state);
  }

  function runBackfill(state) {
    function save() {
      store.set("backfill", state);
      status.backfill = state.finished ? null : state;
      badge.render();
    }
    function listStep() {
      if (state.phase === "list") {
        return readJson(core.listUrl(state.offset, 100, state.archived)).then(function (pageBody) {
          (pageBody.items || []).forEach(function (item) {
            state.items[item.id] = item.update_time;
          });
          if (core.listHasMore(pageBody, state.offset)) state.offset += (pageBody.items || []).length;
          else if (!state.archived) {
            state.archived = true;
            state.offset = 0;
          } else state.phase = "projects";
          save();
          return listStep();
        });
      }
      if (state.phase === "projects") {
        return readProjects(state)
          .catch(function () {
            state.complete = false; // projects are best effort, but then the listing is partial
          })
          .then(function () {
            state.phase = "compare";
            save();
            return listStep();
          });
      }
      if (state.phase === "compare") {
        return askWanted(state.items).then(function (wanted) {
          state.pending = wanted;
          state.total = state.pending.length;
          state.phase = "fetch";
          // The account the lists were read as (the headers our reads carried).
          if (state.complete !== false) queueListed(core.accountId(auth), Object.keys(state.items));
          save();
          return listStep();
        });
      }
      if (state.phase === "fetch") {
        if (!state.pending.length) {
          state.finished = true;
          save();
          return Promise.resolve(state);
        }
        if (store.get("paused", false)) return Promise.resolve(state);
        var id = state.pending[0];
        return archiveConversation(id).then(function () {
          state.pending.shift();
          state.done += 1;
          save();
          return listStep();
        });
      }
      return Promise.resolve(state);
    }
    save();
    return listStep().catch(function (e) {
      status.error = "archive all stopped: " + e.message + " (it resumes on reload)";
      badge.render();
    });
  }

  /** After a complete, successful listing only: every id ChatGPT listed, so the archive can
   * mark what is missing as deleted on ChatGPT. */
  function queueListed(account, ids) {
    put("q:listed:" + account, { kind: "listed", id: account }, JSON.stringify({ account_id: account, complete: true, ids: ids }));
    flush();
  }

  function readProjects(state) {
    function sidebar(cursor) {
      var path =
        "/backend-api/gizmos/snorlax/sidebar?owned_only=true&conversations_per_gizmo=0" +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      return readJson(path).then(function (body) {
        var ids = (body.items || [])
          .map(function (item) {
            return item && item.gizmo && item.gizmo.gizmo && item.gizmo.gizmo.id;
          })
          .filter(Boolean);
        return ids.reduce(function (chain, gizmo) {
          return chain.then(function () {
            return projectConversations(gizmo, null);
          });
        }, Promise.resolve()).then(function () {
          if (body.cursor) return sidebar(body.cursor);
        });
      });
    }
    function projectConversations(gizmo, cursor) {
      var path = "/backend-api/gizmos/" + gizmo + "/conversations" + (cursor ? "?cursor=" + encodeURIComponent(cursor) : "");
      return readJson(path).then(function (body) {
        (body.items || []).forEach(function (item) {
          state.items[item.id] = item.update_time;
        });
        if (body.cursor) return projectConversations(gizmo, body.cursor);
      });
    }
    return sidebar(null);
  }

  // ---- background sync: one tab at a time ------------------------------------------------
  // While any chatgpt.com tab is open, the tab holding the lease (a storage key it renews on
  // each heartbeat) reads the conversation list every few minutes, newest-updated first, and
  // stops at the first page with nothing the archive wants. A lease nobody renewed for
  // LEASE_MS is free; a closing holder frees it at once.

  var HEARTBEAT_MS = 30000;
  var LEASE_MS = 90000;
  var SYNC_PAGE = 28; // the web app's own page size
  var syncing = false;
  var leaseHolder = false;

  function syncMinutes() {
    var minutes = Number(store.get("syncMinutes", 10));
    return minutes >= 0 ? minutes : 10;
  }

  var heldBeats = 0;
  function heartbeat() {
    var result = core.leaseAfterHeartbeat(store.get("syncLease", null), TAB, Date.now(), LEASE_MS);
    if (result.mine) store.set("syncLease", result.lease);
    leaseHolder = result.mine;
    // Two tabs may write the lease in the same instant (storage reaches other tabs a moment
    // later): a tab syncs only once the lease was still its own one heartbeat later.
    heldBeats = result.mine ? heldBeats + 1 : 0;
    badge.render();
    if (heldBeats < 2 || syncing || store.get("paused", false) || !token()) return;
    var backfill = store.get("backfill", null);
    if (backfill && !backfill.finished) return; // "Archive all" is reading everything anyway
    if (!core.syncDue((store.get("lastSync", null) || {}).started, Date.now(), syncMinutes())) return;
    syncOnce();
  }

  function syncOnce() {
    syncing = true;
    var started = Date.now();
    var record = { started: started, finished: null, wanted: 0, error: null, tab: TAB };
    store.set("lastSync", record);
    var offset = 0;
    function step() {
      return readJson(core.listUrl(offset, SYNC_PAGE, false)).then(function (listing) {
        var items = {};
        var listed = (listing && listing.items) || [];
        listed.forEach(function (item) {
          if (item && typeof item.id === "string") items[item.id] = item.update_time;
        });
        if (!listed.length) return;
        return askWanted(items).then(function (wanted) {
          if (!wanted.length) return; // nothing new on this page: the rest is older still
          record.wanted += wanted.length;
          return wanted
            .reduce(function (chain, id) {
              return chain.then(function () {
                return archiveConversation(id);
              });
            }, Promise.resolve())
            .then(function () {
              if (!core.listHasMore(listing, offset)) return;
              offset += listed.length;
              return step();
            });
        });
      });
    }
    return step().then(
      function () {
        syncing = false;
        record.finished = Date.now();
        store.set("lastSync", record);
        badge.render();
      },
      function (e) {
        syncing = false;
        record.finished = Date.now();
        record.error = e.message;
        store.set("lastSync", record);
        badge.render();
      }
    );
  }

  if (GM.listen) {
    // The holder closed and freed the lease: take it over now rather than at the next beat
    // (after a random moment, so two remaining tabs do not ask in the same instant).
    GM.listen("syncLease", function (name, old, value, remote) {
      if (remote && !value) setTimeout(heartbeat, 500 + Math.round(safe.random() * 2000));
    });
  }

  page.addEventListener("pagehide", function () {
    var lease = store.get("syncLease", null);
    if (lease && lease.tab === TAB) store.del("syncLease");
  });

  // ---- badge and menu ------------------------------------------------------------------

  function clock(ms) {
    var d = new Date(ms);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  var badge = {
    node: null,
    render: function () {
      var doc = page.document;
      if (!doc || !doc.body) return;
      if (!this.node) {
        // createElement + textContent only: chatgpt.com enforces Trusted Types.
        this.node = doc.createElement("div");
        this.node.id = "chatgpt-archiver-badge";
        this.node.setAttribute("role", "status");
        this.node.style.cssText =
          "position:fixed;right:12px;bottom:12px;z-index:2147483647;padding:4px 8px;border-radius:6px;" +
          "font:12px/1.4 system-ui,sans-serif;color:#fff;background:#444;opacity:.85;pointer-events:none";
        doc.body.appendChild(this.node);
      }
      var items = queued();
      var state = "archived";
      var text = "Archived " + status.saved;
      if (status.assets) text += ", files " + status.assets;
      if (status.tooLarge) text += " (" + status.tooLarge + " over the size limit)";
      if (status.skipped) text += ", skipped " + status.skipped + " (privacy settings)";
      if (items.length) {
        state = "queued";
        text += ", queued " + items.length;
      }
      if (status.backfill) text += " · all: " + status.backfill.done + "/" + (status.backfill.total || "?");
      var last = store.get("lastSync", null);
      if (last && last.finished) text += " · synced " + clock(last.finished) + (last.error ? " (failed)" : "");
      if (store.get("paused", false)) {
        state = "paused";
        text += " (paused)";
      }
      if (status.error) {
        state = "error";
        text += " · " + status.error;
      }
      var data = this.node.dataset;
      data.state = state;
      data.saved = String(status.saved);
      data.queued = String(items.length);
      data.skipped = String(status.skipped);
      data.assets = String(status.assets);
      data.tooLarge = String(status.tooLarge);
      data.dropped = String(status.dropped);
      data.lease = leaseHolder ? "held" : "other";
      data.lastSync = last && last.finished ? String(last.finished) : "";
      this.node.style.background = { archived: "#2a7", queued: "#c80", paused: "#666", error: "#c33" }[state];
      this.node.textContent = text;
    },
  };

  function archiveThis() {
    var id = core.conversationIdFromPath(page.location.pathname);
    if (id) archiveConversation(id);
  }

  function togglePause() {
    store.set("paused", !store.get("paused", false));
    badge.render();
    if (!store.get("paused", false)) {
      flush();
      var state = store.get("backfill", null);
      if (state && !state.finished) runBackfill(state);
    }
  }

  function toggleSync() {
    var minutes = syncMinutes();
    if (minutes > 0) {
      store.set("syncMinutesWhenOn", minutes);
      store.set("syncMinutes", 0);
    } else {
      store.set("syncMinutes", Number(store.get("syncMinutesWhenOn", 10)) || 10);
    }
    badge.render();
  }

  function askSyncMinutes() {
    var value = page.prompt("chatgpt-archiver: check the conversation list every how many minutes? (0 = never)", String(syncMinutes()));
    var minutes = Number(value);
    if (value !== null && minutes >= 0 && isFinite(minutes)) store.set("syncMinutes", Math.max(minutes, minutes ? 1 : 0));
  }

  function askToken() {
    var value = page.prompt("chatgpt-archiver: paste the token from `chatgpt-archiver token create --name browser`");
    if (value && value.trim()) {
      store.set("token", value.trim());
      status.error = null;
      flush();
    }
  }

  // What the page may call: actions only, no token, no storage.
  var api = { archiveThis: archiveThis, archiveAll: archiveAll, togglePause: togglePause, status: status, flush: flush };
  page.__chatgptArchiver = api;
  if (GM.menu) {
    GM.menu("Archive this conversation now", archiveThis);
    GM.menu("Archive all conversations", archiveAll);
    GM.menu("Pause / resume archiving", togglePause);
    GM.menu("Background sync on / off", toggleSync);
    GM.menu("Set background sync interval…", askSyncMinutes);
    GM.menu("Set archive token…", askToken);
  }

  function start() {
    migrateOldQueue();
    sweepBodies();
    // A reload is a natural moment to retry: whatever waited is tried again in a few seconds.
    var items = queued();
    for (var i = 0; i < items.length; i++) {
      var forward = core.bringForward(items[i][1], Date.now() + 3000);
      if (forward !== items[i][1]) keep(items[i][0], forward);
    }
    badge.render();
    if (!token() && GM.xhr) askToken();
    flush(); // captures queued before a reload
    var state = store.get("backfill", null);
    if (state && !state.finished) runBackfill(state); // resume after a reload
    onNavigate();
    setTimeout(heartbeat, 2000);
    setInterval(heartbeat, HEARTBEAT_MS);
  }
  if (page.document.readyState === "loading") page.document.addEventListener("DOMContentLoaded", start);
  else start();
}

// ==UserScript==
// @name         chatgpt-archiver
// @namespace    chatgpt-archiver
// @version      0.1.0
// @description  Keep your own archive of your ChatGPT conversations on your chatgpt-archiver server.
// @match        https://chatgpt.com/*
// @match        https://chat.openai.com/*
// @run-at       document-start
// @grant        GM_xmlhttpRequest
// @grant        GM_getValue
// @grant        GM_setValue
// @grant        GM_registerMenuCommand
// @grant        unsafeWindow
// @connect      127.0.0.1
// @connect      localhost
// ==/UserScript==
//
// Header notes: @match covers today's address and the old one; @run-at document-start so the
// fetch hook is in place before the app's first read; GM_xmlhttpRequest posts to the archive
// without the page's CSP, CORS or Chromium's Local Network Access prompt in the way (@connect
// names the archive's host; the server adds its own when it serves this file); unsafeWindow is
// the page's realm, whose fetch we wrap.
//
// The file has two halves: pure helpers (URL classification, queueing, backoff, pacing, page
// merging), exported for `node --test`, and thin glue that wires them to the page.

/* eslint-disable no-var */
"use strict";

// Filled in by the server that serves this file (and by the snippet command).
var ARCHIVER_SERVER = "__ARCHIVER_SERVER__";
var ARCHIVER_TOKEN = "__ARCHIVER_TOKEN__";

var ArchiverCore = (function () {
  var UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  var HOSTS = ["chatgpt.com", "chat.openai.com"];
  // Exactly these paths carry conversations; everything else under /backend-api/conversation/
  // (textdocs, stream_status, attachments, gen_title, init, ...) is a sub-resource.
  var ROUTES = [
    { kind: "tree", method: "GET", re: new RegExp("^/backend-api/conversation/(" + UUID + ")$") },
    { kind: "page", method: "GET", re: new RegExp("^/backend-api/conversations/(" + UUID + ")$") },
    { kind: "batch", method: "POST", re: /^\/backend-api\/conversations\/batch$/ },
    { kind: "send", method: "POST", re: /^\/backend-api\/(?:f\/)?conversation$/ },
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

  /** What a request is to the archiver: {kind, id} or null. `url` is absolute or relative. */
  function classify(method, url, base) {
    var parsed;
    try {
      parsed = new URL(String(url), base || "https://chatgpt.com/");
    } catch (e) {
      return null;
    }
    if (HOSTS.indexOf(parsed.hostname) < 0) return null;
    var verb = String(method || "GET").toUpperCase();
    for (var i = 0; i < ROUTES.length; i++) {
      var route = ROUTES[i];
      var match = route.method === verb && route.re.exec(parsed.pathname);
      if (match) return { kind: route.kind, id: match[1] || null };
    }
    return null;
  }

  /** The conversation open at a page path: /c/<id>, /g/<gizmo>/c/<id>. */
  function conversationIdFromPath(pathname) {
    var match = new RegExp("/c/(" + UUID + ")(?:/|$)").exec(String(pathname || ""));
    return match ? match[1] : null;
  }

  function isTree(body) {
    return (
      !!body &&
      typeof body === "object" &&
      !Array.isArray(body) &&
      !!body.mapping &&
      typeof body.mapping === "object" &&
      typeof (body.conversation_id || body.id) === "string"
    );
  }

  function isPage(body) {
    return !!body && typeof body === "object" && Array.isArray(body.messages);
  }

  /** Pages of the plural read, newest first as fetched -> one object the server accepts:
   * the newest page's metadata and every record, oldest first, each id once. */
  function mergePages(pages) {
    var merged = {};
    var newest = pages[0] || {};
    Object.keys(newest).forEach(function (k) {
      if (k !== "messages" && k !== "page_info") merged[k] = newest[k];
    });
    var seen = {};
    var records = [];
    for (var i = pages.length - 1; i >= 0; i--) {
      (pages[i].messages || []).forEach(function (m) {
        var id = m && (m.id || (m.message && m.message.id));
        if (id && !seen[id]) {
          seen[id] = true;
          records.push(m);
        }
      });
    }
    merged.messages = records;
    return merged;
  }

  /** Headers worth copying from a page request (a Headers, array of pairs, or plain object). */
  function pickAuthHeaders(headers) {
    var out = {};
    if (!headers) return out;
    var entries =
      typeof headers.forEach === "function" && !Array.isArray(headers)
        ? (function () {
            var list = [];
            headers.forEach(function (v, k) {
              list.push([k, v]);
            });
            return list;
          })()
        : Array.isArray(headers)
        ? headers
        : Object.keys(headers).map(function (k) {
            return [k, headers[k]];
          });
    entries.forEach(function (pair) {
      var name = String(pair[0]).toLowerCase();
      if (AUTH_HEADERS.indexOf(name) >= 0 && pair[1]) out[name] = String(pair[1]);
    });
    return out;
  }

  /** Seconds from a Retry-After header (delta-seconds or HTTP date), or null. */
  function parseRetryAfter(value, now) {
    if (value === null || value === undefined || value === "") return null;
    var seconds = Number(value);
    if (isFinite(seconds)) return Math.max(0, seconds);
    var date = Date.parse(value);
    return isNaN(date) ? null : Math.max(0, (date - now) / 1000);
  }

  /** Milliseconds to wait before attempt number `attempt` (0-based) after a failure.
   * A server's Retry-After wins; otherwise exponential with jitter, capped. */
  function backoffDelay(attempt, retryAfterSeconds, options) {
    var o = options || {};
    var base = o.base || 2000;
    var cap = o.cap || 10 * 60 * 1000;
    var random = o.random || Math.random;
    if (retryAfterSeconds !== null && retryAfterSeconds !== undefined) {
      return Math.min(cap, Math.max(0, retryAfterSeconds * 1000));
    }
    var exp = Math.min(cap, base * Math.pow(2, Math.min(attempt, 30)));
    return Math.round(exp / 2 + (exp / 2) * random());
  }

  /** What to do with a capture after the archive answered `status` (0 = no answer). */
  function postOutcome(status) {
    if (status >= 200 && status < 300) return "done";
    // 401: fix the token; 413: raise the limit; 408/429/5xx/none: later. Keep those.
    if (status === 0 || status === 401 || status === 408 || status === 413 || status === 429) return "retry";
    if (status >= 500) return "retry";
    return "drop"; // 400/422 and friends: the same bytes will never be accepted
  }

  /** Add a capture to the queue; a newer capture of the same conversation and shape
   * replaces a queued older one (it holds everything the older one had). */
  function enqueue(queue, item) {
    var key = item.conversationId + ":" + item.shape;
    var rest = queue.filter(function (q) {
      return q.conversationId + ":" + q.shape !== key;
    });
    rest.push({
      conversationId: item.conversationId,
      shape: item.shape,
      body: item.body,
      attempts: 0,
      due: item.due || 0,
      error: null,
    });
    return rest;
  }

  /** The queue after an attempt on `item` ended with `status` at time `now`. */
  function settle(queue, item, status, now, retryAfterSeconds, options) {
    var outcome = postOutcome(status);
    var rest = queue.filter(function (q) {
      return q !== item;
    });
    if (outcome !== "retry") return { queue: rest, outcome: outcome };
    var updated = Object.assign({}, item, {
      attempts: item.attempts + 1,
      due: now + backoffDelay(item.attempts, retryAfterSeconds, options),
      error: status ? "HTTP " + status : "archive unreachable",
    });
    // Keep it where it was, unless a newer capture of it arrived meanwhile.
    var newer = rest.some(function (q) {
      return q.conversationId === item.conversationId && q.shape === item.shape;
    });
    if (!newer) rest.splice(Math.min(queue.indexOf(item), rest.length), 0, updated);
    return { queue: rest, outcome: outcome };
  }

  /** The first queued item whose time has come, or null. */
  function nextDue(queue, now) {
    for (var i = 0; i < queue.length; i++) if (queue[i].due <= now) return queue[i];
    return null;
  }

  /** The queue with nothing due later than `latest`. Backoff grows to minutes while the
   * archive is down; when it is back (a post succeeded, or the tab was reloaded) the
   * waiting captures should not sit out the rest of their wait. */
  function bringForward(queue, latest) {
    return queue.map(function (q) {
      return q.due > latest ? Object.assign({}, q, { due: latest }) : q;
    });
  }

  /** Milliseconds until the next read may start: one start per `interval`. */
  function paceDelay(lastStart, interval, now) {
    if (lastStart === null || lastStart === undefined) return 0;
    return Math.max(0, lastStart + interval - now);
  }

  /** The conversation list endpoint for a backfill step. */
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
      encodeURIComponent(cursor) +
      "&include_has_versions=true&num_turns=10"
    );
  }

  return {
    UUID: UUID,
    classify: classify,
    conversationIdFromPath: conversationIdFromPath,
    isTree: isTree,
    isPage: isPage,
    mergePages: mergePages,
    pickAuthHeaders: pickAuthHeaders,
    parseRetryAfter: parseRetryAfter,
    backoffDelay: backoffDelay,
    postOutcome: postOutcome,
    enqueue: enqueue,
    settle: settle,
    nextDue: nextDue,
    bringForward: bringForward,
    paceDelay: paceDelay,
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

function archiverMain(core) {
  var gm = typeof GM_xmlhttpRequest === "function";
  var page = typeof unsafeWindow !== "undefined" ? unsafeWindow : window;
  if (page.__chatgptArchiver) return; // pasted twice, or both snippet and userscript
  var server = ARCHIVER_SERVER.indexOf("__") === 0 ? "http://127.0.0.1:8001" : ARCHIVER_SERVER;
  server = server.replace(/\/+$/, "");
  var originalFetch = page.fetch;
  var PREFIX = "chatgpt-archiver:";

  var store = {
    get: function (key, fallback) {
      try {
        if (typeof GM_getValue === "function") return GM_getValue(key, fallback);
        var raw = page.localStorage.getItem(PREFIX + key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set: function (key, value) {
      try {
        if (typeof GM_setValue === "function") GM_setValue(key, value);
        else page.localStorage.setItem(PREFIX + key, JSON.stringify(value));
      } catch (e) {
        status.error = "storage full: " + e.message;
        badge.render();
      }
    },
  };

  var status = { saved: 0, error: null, backfill: null };
  var auth = store.get("authHeaders", {});
  var archivedTimes = store.get("archivedTimes", {});
  // A reload is a natural moment to retry: whatever waited is tried again in a few seconds.
  var queue = core.bringForward(store.get("queue", []), Date.now() + 3000);
  var pace = Number(store.get("paceMs", 1000));
  var lastRead = store.get("lastRead", null); // kept across reloads, so a reload cannot break the pace
  var lastCaptureAt = {}; // conversation id -> time a tree or page of it was seen
  var authWaiters = [];

  function token() {
    if (ARCHIVER_TOKEN.indexOf("__") !== 0) return ARCHIVER_TOKEN;
    return store.get("token", "");
  }

  // ---- posting to the archive -------------------------------------------------------

  function send(method, path, body) {
    var headers = { Authorization: "Bearer " + token(), "Content-Type": "application/json" };
    if (gm) {
      return new Promise(function (resolve) {
        GM_xmlhttpRequest({
          method: method,
          url: server + path,
          headers: headers,
          data: body,
          timeout: 120000,
          onload: function (r) {
            resolve({ status: r.status, text: r.responseText, retryAfter: header(r.responseHeaders, "retry-after") });
          },
          onerror: function () {
            resolve({ status: 0, text: "", retryAfter: null });
          },
          ontimeout: function () {
            resolve({ status: 0, text: "", retryAfter: null });
          },
        });
      });
    }
    // The console snippet: page fetch, no cookies (they would make it a CSRF-shaped request).
    return originalFetch
      .call(page, server + path, { method: method, headers: headers, body: body, credentials: "omit", mode: "cors" })
      .then(function (r) {
        return r.text().then(function (text) {
          return { status: r.status, text: text, retryAfter: r.headers.get("retry-after") };
        });
      })
      .catch(function () {
        return { status: 0, text: "", retryAfter: null };
      });
  }

  function header(raw, name) {
    var match = new RegExp("^" + name + ":\\s*(.*)$", "im").exec(raw || "");
    return match ? match[1].trim() : null;
  }

  function capture(conversationId, shape, body) {
    queue = core.enqueue(queue, { conversationId: conversationId, shape: shape, body: body, due: 0 });
    store.set("queue", queue);
    badge.render();
    flush();
  }

  var flushing = false;
  var flushTimer = null;
  function flush() {
    if (flushing || store.get("paused", false)) return;
    var item = core.nextDue(queue, Date.now());
    if (!item) {
      scheduleFlush();
      return;
    }
    if (!token()) {
      status.error = "no token: use the menu to set your archive token";
      badge.render();
      return;
    }
    flushing = true;
    send("POST", "/api/conversations", item.body).then(function (r) {
      flushing = false;
      var result = core.settle(queue, item, r.status, Date.now(), core.parseRetryAfter(r.retryAfter, Date.now()));
      // The archive is back: what waits is sent now, not at the end of its backoff.
      queue = result.outcome === "done" ? core.bringForward(result.queue, Date.now()) : result.queue;
      store.set("queue", queue);
      if (result.outcome === "done") {
        status.saved += 1;
        status.error = null;
      } else {
        status.error = r.status ? "archive answered " + r.status + errorText(r.text) : "archive unreachable";
      }
      badge.render();
      flush();
    });
  }

  function errorText(text) {
    try {
      return ": " + JSON.parse(text).error;
    } catch (e) {
      return "";
    }
  }

  function scheduleFlush() {
    // Always re-aimed at the earliest due item: a capture failing now with a short backoff
    // must not wait behind a timer set for one that has been failing for minutes.
    clearTimeout(flushTimer);
    flushTimer = null;
    if (!queue.length) return;
    var wait = Math.min.apply(
      null,
      queue.map(function (q) {
        return q.due;
      })
    ) - Date.now();
    flushTimer = setTimeout(function () {
      flushTimer = null;
      flush();
    }, Math.max(250, wait));
  }

  // ---- reading from ChatGPT, as the page does ----------------------------------------

  function whenAuthorised() {
    if (auth.authorization) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      authWaiters.push({ resolve: resolve, reject: reject });
      // No authorised request from the page yet: ask for the session, as the app does.
      originalFetch
        .call(page, "/api/auth/session", { credentials: "include" })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .catch(function () {
          return null;
        })
        .then(function (session) {
          if (session && session.accessToken) {
            if (!auth.authorization) learnAuth({ authorization: "Bearer " + session.accessToken });
          } else if (!auth.authorization) {
            authWaiters.splice(0).forEach(function (w) {
              w.reject(new Error("not signed in to ChatGPT"));
            });
          }
        });
    });
  }

  function learnAuth(headers) {
    if (!headers.authorization) return;
    var changed = Object.keys(headers).some(function (k) {
      return auth[k] !== headers[k];
    });
    if (!changed) return;
    auth = Object.assign({}, auth, headers);
    store.set("authHeaders", auth);
    authWaiters.splice(0).forEach(function (w) {
      w.resolve();
    });
  }

  /** A paced, read-only GET against ChatGPT with the page's headers; waits out 429s. The
   * pace and any Retry-After are kept in storage, so a reload cannot skip them. */
  function read(path, attempt) {
    attempt = attempt || 0;
    return whenAuthorised()
      .then(function () {
        var now = Date.now();
        var wait = Math.max(core.paceDelay(lastRead, pace, now), store.get("readNotBefore", 0) - now);
        return new Promise(function (resolve) {
          setTimeout(resolve, Math.max(0, wait));
        });
      })
      .then(function () {
        lastRead = Date.now();
        store.set("lastRead", lastRead);
        return originalFetch.call(page, path, { method: "GET", headers: auth, credentials: "include" });
      })
      .then(function (r) {
        if (r.status === 429 && attempt < 8) {
          var delay = core.backoffDelay(attempt, core.parseRetryAfter(r.headers.get("retry-after"), Date.now()));
          store.set("readNotBefore", Date.now() + delay);
          status.error = "ChatGPT rate limit: waiting " + Math.round(delay / 1000) + " s";
          badge.render();
          return read(path, attempt + 1).then(function (retried) {
            status.error = null;
            return retried;
          });
        }
        if (r.status === 401 && attempt === 0) {
          auth = {}; // the access token expired: learn a fresh one
          return read(path, attempt + 1);
        }
        return r;
      });
  }

  function readJson(path) {
    return read(path).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  var fetching = {};
  /** The full tree from the singular endpoint; the paged messages if that read fails. */
  function archiveConversation(id) {
    if (fetching[id]) return fetching[id];
    fetching[id] = readJson("/backend-api/conversation/" + id)
      .then(function (tree) {
        if (!core.isTree(tree)) throw new Error("not a tree");
        rememberTree(id, tree);
        capture(id, "tree", JSON.stringify(tree));
      })
      .catch(function () {
        return archivePages(id);
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

  function archivePages(id) {
    var pages = [];
    var cursors = {};
    function next(path) {
      return readJson(path).then(function (pageBody) {
        if (!core.isPage(pageBody)) throw new Error("unexpected page shape");
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
      capture(id, "page", JSON.stringify(merged));
    });
  }

  function rememberTree(id, body) {
    archivedTimes[id] = body.update_time;
    lastCaptureAt[id] = Date.now();
    store.set("archivedTimes", archivedTimes);
  }

  // ---- the fetch hook ----------------------------------------------------------------

  function describe(input, init) {
    var isRequest = typeof Request !== "undefined" && input instanceof page.Request;
    var url = isRequest ? input.url : input && input.href ? input.href : String(input);
    var method = (init && init.method) || (isRequest ? input.method : "GET");
    var headers = (init && init.headers) || (isRequest ? input.headers : null);
    return { url: url, method: method, headers: headers, body: init && init.body };
  }

  function observe(input, init, promise) {
    var request = describe(input, init);
    if (request.url.indexOf("/backend-api/") < 0) return;
    learnAuth(core.pickAuthHeaders(request.headers));
    var target = core.classify(request.method, request.url, page.location.href);
    if (!target) return;
    promise.then(
      function (response) {
        if (!response.ok) return;
        var copy = response.clone(); // now, before the page reads the body
        if (target.kind === "send") return onReply(request, copy);
        // Our work waits until the page is idle: the page's own code goes first.
        whenIdle(function () {
          copy
            .text()
            .then(function (text) {
              onBody(target, JSON.parse(text), text);
            })
            .catch(function () {});
        });
      },
      function () {}
    );
  }

  function whenIdle(fn) {
    if (typeof page.requestIdleCallback === "function") page.requestIdleCallback(fn, { timeout: 2000 });
    else setTimeout(fn, 0);
  }

  function onBody(target, body, text) {
    if (target.kind === "tree" && core.isTree(body)) {
      rememberTree(target.id, body);
      capture(target.id, "tree", text); // the bytes exactly as ChatGPT sent them
    } else if (target.kind === "batch" && Array.isArray(body)) {
      body.filter(core.isTree).forEach(function (tree) {
        var id = tree.conversation_id || tree.id;
        rememberTree(id, tree);
        capture(id, "tree", JSON.stringify(tree));
      });
    } else if (target.kind === "page" && core.isPage(body)) {
      // The app's paged read holds one branch; fetch the whole tree once per update_time.
      lastCaptureAt[target.id] = Date.now();
      if (archivedTimes[target.id] !== body.update_time) archiveConversation(target.id);
    }
  }

  function onReply(request, copy) {
    var id = null;
    try {
      id = JSON.parse(request.body).conversation_id || null;
    } catch (e) {
      id = null;
    }
    var reader = copy.body && copy.body.getReader();
    if (!reader) return;
    var decoder = new TextDecoder();
    var text = "";
    var finished = Date.now();
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        if (!id) {
          text += decoder.decode(chunk.value, { stream: true });
          var match = new RegExp('"conversation_id"\\s*:\\s*"(' + core.UUID + ')"').exec(text);
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
      .catch(function () {});
  }

  page.fetch = function (input, init) {
    // The page's own call, untouched: same arguments, same receiver, same promise.
    var promise = originalFetch.apply(this === undefined || this === page || this === window ? page : this, arguments);
    try {
      observe(input, init, promise);
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
  ["pushState", "replaceState"].forEach(function (name) {
    var original = page.history[name];
    page.history[name] = function () {
      var result = original.apply(this, arguments);
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

  function archiveAll() {
    var state = store.get("backfill", null);
    if (!state || state.finished) {
      state = { phase: "list", offset: 0, archived: false, items: {}, projects: null, pending: [], done: 0, total: 0 };
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
          .catch(function () {}) // projects are best effort: not every account has them
          .then(function () {
            state.phase = "compare";
            save();
            return listStep();
          });
      }
      if (state.phase === "compare") {
        var known = Object.keys(state.items).map(function (id) {
          return { id: id, update_time: state.items[id] };
        });
        return send("POST", "/api/conversations/wanted", JSON.stringify({ conversations: known })).then(function (r) {
          if (r.status !== 200) throw new Error("archive answered " + r.status + errorText(r.text));
          state.pending = JSON.parse(r.text).wanted;
          state.total = state.pending.length;
          state.phase = "fetch";
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

  // ---- badge and menu ------------------------------------------------------------------

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
      var state = "archived";
      var text = "Archived " + status.saved;
      if (queue.length) {
        state = "queued";
        text += ", queued " + queue.length;
      }
      if (status.backfill) text += " · all: " + status.backfill.done + "/" + (status.backfill.total || "?");
      if (store.get("paused", false)) {
        state = "paused";
        text += " (paused)";
      }
      if (status.error) {
        state = "error";
        text += " · " + status.error;
      }
      this.node.dataset.state = state;
      this.node.dataset.saved = String(status.saved);
      this.node.dataset.queued = String(queue.length);
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

  function askToken() {
    var value = page.prompt("chatgpt-archiver: paste the token from `chatgpt-archiver token create --name browser`");
    if (value && value.trim()) {
      store.set("token", value.trim());
      status.error = null;
      flush();
    }
  }

  var api = { archiveThis: archiveThis, archiveAll: archiveAll, togglePause: togglePause, status: status, flush: flush };
  page.__chatgptArchiver = api;
  if (typeof GM_registerMenuCommand === "function") {
    GM_registerMenuCommand("Archive this conversation now", archiveThis);
    GM_registerMenuCommand("Archive all conversations", archiveAll);
    GM_registerMenuCommand("Pause / resume archiving", togglePause);
    GM_registerMenuCommand("Set archive token…", askToken);
  }

  function start() {
    badge.render();
    if (!token() && gm) askToken();
    flush(); // captures queued before a reload
    var state = store.get("backfill", null);
    if (state && !state.finished) runBackfill(state); // resume after a reload
    onNavigate();
  }
  if (page.document.readyState === "loading") page.document.addEventListener("DOMContentLoaded", start);
  else start();
}

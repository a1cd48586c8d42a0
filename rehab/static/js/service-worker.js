// The patient portal with no signal (served at /p/sw.js by rehab/views/portal/offline.py; its scope is /p/).
//
// Network first, for every same-origin GET under /p/ and /static/: the answer from the server is shown and, when
// it is a 200, kept; with no signal the kept copy is shown, else the plain offline page. So the pages the patient
// opened (My exercises, progress, the log form, questionnaires, the session player and its files, the latest
// sheet) work with no signal once opened, without a list to keep up to date.
//
// Only the patient whose session it is: a portal page is kept only when it says whose it is (X-Portal-Owner) and
// until when the session lasts unused (X-Portal-Offline-Until). The kept pages are deleted when a page of
// another owner arrives, when the patient leaves (POST /p/leave, even with no signal), when the session is found
// closed (/p/closed), when a link is opened (a new session, maybe another patient on a shared phone), and they are
// never shown after the session's time (the worker deletes them instead). Static files and the offline page hold
// no patient data and are kept apart.
importScripts("/static/js/offline-queue.js");

const PAGES = "rehab-portal-pages";
const SHARED = "rehab-portal-shared-v1";
const SESSION = "/p/__session__";        // a made-up entry in PAGES: {owner, until, lang}
const LATEST_SHEET = "/p/__latest_sheet__.pdf";
const OFFLINE_PAGE = { en: "/p/offline?lang=en", es: "/p/offline?lang=es" };
const PRECACHE = [...Object.values(OFFLINE_PAGE), "/static/css/portal.css", "/static/js/app.js",
  "/static/js/forms.js", "/static/js/offline.js", "/static/js/offline-queue.js", "/static/favicon.svg"];
// A personal link (rehab/views/portal/link.py: 20 to 128 URL-safe characters), and the pages that end a session.
const LINK = /^\/p\/[A-Za-z0-9_-]{20,128}$/;
const SESSION_ENDS = new Set(["/p/closed", "/p/check", "/p/code"]);  // /p/code: the short code typed in

self.addEventListener("install", (event) => {
  // Without the cookie: the offline page must be no one's (and must not take anyone's one-time messages).
  event.waitUntil(caches.open(SHARED).then((cache) => Promise.all(PRECACHE.map(async (url) => {
    const response = await fetch(url, { credentials: "omit", cache: "no-store" });
    if (response.ok) await cache.put(url, response);
  }))).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name !== PAGES && name !== SHARED)
      .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

const forget = async () => {
  await caches.delete(PAGES);
  await RehabQueue.forgetSession();  // the logs stay (they are the patient's); the session's token goes
};

const sessionOf = async () => {
  const response = await caches.match(SESSION, { cacheName: PAGES });  // (opening would make an empty one)
  return response ? response.json() : null;
};

const keep = async (request, response) => {
  const owner = response.headers.get("X-Portal-Owner");
  if (response.status !== 200 || response.type !== "basic" || !owner) return;
  const known = await sessionOf();
  if (known && known.owner !== owner) await forget();  // another patient on this phone: nothing mixed
  const cache = await caches.open(PAGES);
  const until = Number(response.headers.get("X-Portal-Offline-Until")) || 0;
  const lang = response.headers.get("Content-Language") || "en";
  await cache.put(SESSION, new Response(JSON.stringify({ owner, until, lang })));
  await cache.put(request, response.clone());
  if (/^\/p\/sheet\/\d+\.pdf$/.test(new URL(request.url).pathname)) await cache.put(LATEST_SHEET, response.clone());
};

// A kept page, while the session it belongs to would still be open; after that, nothing (and it is deleted).
const kept = async (request, fallback) => {
  const known = await sessionOf();
  if (!known) return null;
  if (Date.now() / 1000 > known.until) { await forget(); return null; }
  const cache = await caches.open(PAGES);
  if (fallback) return cache.match(fallback);
  const copy = (await cache.match(request))
    || (request.mode === "navigate" ? await cache.match(request, { ignoreSearch: true }) : undefined);
  return copy && request.mode === "navigate" ? markedAsKept(copy) : copy;
};

// A page shown from the phone's copy says so (offline.js then gives its log form a fresh key).
const markedAsKept = async (response) => {
  if (!(response.headers.get("Content-Type") || "").startsWith("text/html")) return response;
  const page = (await response.text()).replace("<head>", '<head><meta name="rehab-from-cache" content="1">');
  return new Response(page, { status: 200, headers: response.headers });
};

// The log form sent as a plain post (a page fresh from the server) that found no network: kept on the phone.
const logPost = async (request) => {
  const copy = request.clone();
  try {
    return await fetch(request);
  } catch (error) {
    const known = await RehabQueue.session();
    const form = await copy.formData();
    const key = form.get("form_id");
    if (!known || !RehabQueue.isKey(key)) return offlinePage();
    const fields = [...form].filter(([name]) => !["csrf_token", "form_id", "owner"].includes(name));
    await RehabQueue.put({ key, owner: known.owner, fields, at: Date.now(), state: "waiting",
                           stop: RehabQueue.hasRedFlag(fields) });
    if (self.registration.sync) await self.registration.sync.register(RehabQueue.SYNC_TAG).catch(() => {});
    return Response.redirect("/p/log?kept=1", 303);
  }
};

const offlinePage = async () => {
  const known = await sessionOf();
  const lang = (known && known.lang) || (self.navigator.language || "en").slice(0, 2);
  const shared = await caches.open(SHARED);
  return (await shared.match(OFFLINE_PAGE[lang] || OFFLINE_PAGE.en)) || Response.error();
};

const portalPage = async (request) => {
  try {
    const response = await fetch(request);
    if (request.mode === "navigate" && response.type === "basic" && !response.headers.get("X-Portal-Owner")) {
      await forget();  // a portal page outside a patient session (link no longer valid, closed): keep nothing
    } else {
      await keep(request, response);
    }
    return response;
  } catch (error) {
    const copy = await kept(request);
    if (copy) return copy;
    return request.mode === "navigate" ? offlinePage() : Response.error();
  }
};

const staticFile = async (request) => {
  try {
    const response = await fetch(request);
    if (response.status === 200 && response.type === "basic") {
      await (await caches.open(SHARED)).put(request, response.clone());
    }
    return response;
  } catch (error) {
    return (await (await caches.open(SHARED)).match(request, { ignoreSearch: true })) || Response.error();
  }
};

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST") {
    if (url.pathname === "/p/leave") {
      // Forgotten first, so that not even "no signal" keeps this patient's pages on the phone.
      event.respondWith(forget().then(() => fetch(request)).catch(() => offlinePage()));
    } else if (url.pathname === "/p/log" && request.mode === "navigate") {
      event.respondWith(logPost(request));
    } else if (url.pathname === "/p/sheet") {
      // "Download my sheet" with no signal: the latest sheet this patient opened, if any.
      event.respondWith(fetch(request).catch(async () => (await kept(request, LATEST_SHEET)) || offlinePage()));
    }
    return;  // every other post goes to the server as it is (the log form's are queued by offline.js)
  }
  if (request.method !== "GET" || url.pathname === "/p/sw.js") return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFile(request));
  } else if (url.pathname.startsWith("/p/")) {
    if (LINK.test(url.pathname) || SESSION_ENDS.has(url.pathname)) {
      event.respondWith(forget().then(() => fetch(request)).catch(() => offlinePage()));
    } else {
      event.respondWith(portalPage(request));
    }
  }
});

// Background Sync: the logs kept on the phone are sent when the signal is back, even with no portal page open.
self.addEventListener("sync", (event) => {
  if (event.tag !== RehabQueue.SYNC_TAG) return;
  event.waitUntil((async () => {
    const known = await RehabQueue.session();
    if (!known) return;
    const answers = await RehabQueue.sendAll(known.owner, known.csrf);
    const pages = await self.clients.matchAll({ type: "window" });
    pages.forEach((page) => page.postMessage({ type: "rehab-queue", answers: answers.map(
      ({ entry, outcome, stop_url: stopUrl }) => ({ outcome, stop_url: stopUrl, stop: entry.stop })) }));
  })());
});

// Home sessions logged with no signal, kept on the phone (IndexedDB) until the server has them: shared by the
// portal's pages (static/js/offline.js) and its service worker (static/js/service-worker.js, Background Sync).
//
// Exactly once: each log keeps its idempotency key (the form's one-time id, rehab/once.py) from the moment it is
// kept, and every send carries it; the server claims the key in the transaction that saves the log, so a resend
// after a lost answer, or the page and the worker sending at once, is answered "already saved". A key once used
// is remembered here (without the answers) so that a page shown again from the cache never reuses it.
//
// Whose log: each is kept with its owner tag (the page's <meta name="rehab-owner">, a keyed hash of the patient);
// it is shown and sent only inside that patient's session, and the server refuses it for anyone else.
(() => {
  const DB_NAME = "rehab-offline";
  const LOGS = "logs";      // {key, owner, fields: [[name, value]...], at, state, stop, errors}
  const META = "meta";      // {id: "page", owner, csrf}: the latest page's session, for the worker's sends
  const SENT_KEPT_MS = 30 * 24 * 3600 * 1000;  // as long as the server recognises a form id (RETENTION)
  const LOG_URL = "/p/log";

  const open = () => new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(LOGS, { keyPath: "key" });
      request.result.createObjectStore(META, { keyPath: "id" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

  const run = async (store, mode, work) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const result = work(tx.objectStore(store));
      tx.oncomplete = () => { db.close(); resolve(result && "result" in result ? result.result : undefined); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  };

  const all = () => run(LOGS, "readonly", (store) => store.getAll());
  const put = (entry) => run(LOGS, "readwrite", (store) => store.put(entry));
  const remove = (key) => run(LOGS, "readwrite", (store) => store.delete(key));
  const get = (key) => run(LOGS, "readonly", (store) => store.get(key));

  const newKey = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  // The page's own id while it was never used on this phone, else a fresh one. A page shown from the cache always
  // gets a fresh one: its id may have been sent from that page before, when it was new.
  const keyFor = async (pageKey, fromCache) => (!fromCache && isKey(pageKey) && !(await get(pageKey))
    ? pageKey : newKey());

  const waiting = async (owner) => (await all()).filter((entry) => entry.state !== "sent"
    && (!owner || entry.owner === owner));

  // Sent: the answers leave the phone, the key stays (a cached page's form must not use it again).
  const markSent = (entry) => put({ key: entry.key, owner: entry.owner, at: entry.at, state: "sent", sentAt: Date.now() });

  const prune = async () => {
    const old = (await all()).filter((entry) => entry.state === "sent" && Date.now() - entry.sentAt > SENT_KEPT_MS);
    await Promise.all(old.map((entry) => remove(entry.key)));
  };

  const setSession = (owner, csrf) => run(META, "readwrite", (store) => store.put({ id: "page", owner, csrf }));
  const session = () => run(META, "readonly", (store) => store.get("page"));
  const forgetSession = () => run(META, "readwrite", (store) => store.delete("page"));

  // One send. The outcome: "saved" / "already_saved" (done), "invalid" (the server said why), "closed" (no live
  // session or token here: open the link again), "other_patient", or "offline" (no answer: try again later).
  const send = async (entry, csrf) => {
    const body = new URLSearchParams(entry.fields);
    body.set("form_id", entry.key);
    body.set("owner", entry.owner);
    body.set("csrf_token", csrf || "");
    let response;
    try {
      response = await fetch(LOG_URL, { method: "POST", body, credentials: "same-origin",
        headers: { "X-Rehab-Queued": "1", Accept: "application/json" } });
    } catch (error) {
      return { outcome: "offline" };
    }
    const json = (response.headers.get("Content-Type") || "").includes("application/json");
    if (!json) return { outcome: "closed" };  // sent to "your page is closed", or the token expired with it
    const answer = await response.json();
    if (answer.outcome === "saved" || answer.outcome === "already_saved") await markSent(entry);
    else if (answer.outcome === "invalid") await put({ ...entry, state: "refused", errors: answer.errors });
    return answer;
  };

  // Every waiting log of this owner, one after the other. Returns the answers, in order.
  const sendAll = async (owner, csrf) => {
    const answers = [];
    if (!owner) return answers;
    for (const entry of await waiting(owner)) {
      if (entry.state === "refused") continue;  // waits for the patient to check it (offline.js)
      const answer = await send(entry, csrf);
      if (answer.outcome === "closed") await put({ ...entry, state: "closed" });
      answers.push({ entry, ...answer });
      if (answer.outcome === "offline" || answer.outcome === "closed") break;
    }
    await prune();
    return answers;
  };

  // A red flag or a fall: the stop screen follows when the log is sent (rehab/vocabulary.py: RedFlag).
  const hasRedFlag = (fields) => fields.some(([name, value]) => (name.startsWith("flag_") && value)
    || (name === "fell" && value === "yes"));
  const isKey = (value) => typeof value === "string" && /^[A-Za-z0-9_-]{16,64}$/.test(value);

  self.RehabQueue = { SYNC_TAG: "rehab-send-logs", put, remove, get, all, waiting, keyFor, newKey, send, sendAll,
                      markSent, setSession, session, forgetSession, hasRedFlag, isKey };
})();

// The portal's pages with no signal: registers the service worker (static/js/service-worker.js), keeps a log made
// with no signal on the phone (static/js/offline-queue.js) and sends it once the signal is back, and says so on
// every page: "Waiting to send: 1 session (saved on this phone)". The words come from the page (data-*), in the
// patient's language.
(() => {
  const Q = self.RehabQueue;
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const owner = meta("rehab-owner");
  const csrf = () => (document.querySelector('input[name="csrf_token"]') || {}).value || "";
  const show = (element, on) => { if (element) element.hidden = !on; };
  let busy = false;
  const STOP_URL = "/p/home";  // shows the stop screen while a red flag or a fall waits for the therapist

  const register = () => {
    const url = meta("rehab-service-worker");
    if (!url || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register(url, { scope: "/p/" }).catch(() => {});
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "rehab-queue") after(event.data.answers);
    });
  };

  const forgetPages = () => (self.caches ? caches.delete("rehab-portal-pages") : Promise.resolve());

  const words = (element, name, count) => (element.dataset[name] || "").replace("%(count)s", String(count));

  // The note on every page: how many logs wait, and what the patient can do about the ones that cannot go yet.
  const showNote = async () => {
    const note = document.getElementById("offline-queue");
    if (!note || !Q) return;
    // Without a patient session (the "closed" page) only a count is shown: nothing of the answers.
    const entries = await Q.waiting(owner || null);
    show(note, entries.length > 0);
    if (!entries.length) return;
    note.querySelector("[data-count]").textContent = words(note, entries.length === 1 ? "one" : "many", entries.length);
    show(note.querySelector("[data-closed]"), !owner || entries.some((entry) => entry.state === "closed"));
    const refused = owner ? entries.filter((entry) => entry.state === "refused") : [];
    const list = note.querySelector("[data-refused-list]");
    list.replaceChildren(...refused.map((entry) => refusedItem(note, entry)));
    show(list, refused.length > 0);
  };

  // A day as the pages write it ("3 Dec 2026" / "3 dic 2026", rehab/dates.py), or as typed if it is no date.
  const dayText = (iso) => {
    const day = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(`${iso}T12:00:00`) : null;
    if (!day || Number.isNaN(day.getTime())) return iso;
    const spanish = document.documentElement.lang === "es";
    return new Intl.DateTimeFormat(spanish ? "es" : "en-GB", { day: "numeric", month: "short", year: "numeric" })
      .format(day).replace(".", "");
  };

  // A log the server refused: its reasons, and a button that opens the form with the answers and reasons.
  const refusedItem = (note, entry) => {
    const item = document.createElement("li");
    const day = dayText(new Map(entry.fields).get("session_date") || "");
    const intro = document.createElement("p");
    intro.textContent = words(note, "refused", 0).replace("%(date)s", day);
    const reasons = document.createElement("ul");
    Object.values(entry.errors || {}).forEach((text) => {
      const reason = document.createElement("li");
      reason.textContent = text;
      reasons.append(reason);
    });
    const button = document.createElement("button");
    button.type = "button";
    button.className = "p-button p-small";
    button.textContent = words(note, "fix", 0);
    button.addEventListener("click", () => fix(entry));
    item.append(intro, reasons, button);
    return item;
  };

  // Checked and sent as the form always is: the server shows the answers with each reason beside its question.
  const fix = async (entry) => {
    if (!navigator.onLine) return;
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/p/log";
    form.hidden = true;
    [...entry.fields, ["form_id", entry.key], ["csrf_token", csrf()]].forEach(([name, value]) => {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    });
    document.body.append(form);
    await Q.remove(entry.key);  // the server has the answers now, on the page it sends back
    form.submit();
  };

  // After sends: a log with a red flag or a fall leads to the stop screen, as the form does when sent online.
  const after = async (answers) => {
    const done = (answer) => answer.outcome === "saved" || answer.outcome === "already_saved";
    const stop = answers.find((answer) => answer.stop_url || (done(answer) && answer.stop));
    if (stop) { location.assign(stop.stop_url || STOP_URL); return true; }
    if (answers.some((answer) => answer.outcome === "closed")) await forgetPages();
    await showNote();
    return false;
  };

  const sendWaiting = async () => {
    if (!Q || !owner || !navigator.onLine || busy) return;
    busy = true;
    try {
      const answers = await Q.sendAll(owner, csrf());
      await after(answers.map(({ entry, ...answer }) => ({ ...answer, stop: entry.stop })));
    } finally {
      busy = false;
    }
  };

  const askForSync = async () => {
    if (!("serviceWorker" in navigator)) return;
    const registration = await navigator.serviceWorker.ready;
    if (registration.sync) await registration.sync.register(Q.SYNC_TAG).catch(() => {});
  };

  const hasRedFlag = (fields) => Q.hasRedFlag(fields);
  // A page from the phone's copy (service-worker.js marks it), or opened with no signal: its form is kept first.
  const fromCache = Boolean(meta("rehab-from-cache")) || !navigator.onLine;

  // The log form: kept on the phone first, then sent; with no answer it stays kept and waits for the signal.
  const queueForm = (form) => {
    const saved = document.querySelector("[data-offline-saved]");
    const stopNote = document.querySelector("[data-offline-stop]");
    const liveStop = () => show(stopNote, hasRedFlag([...new FormData(form)]));
    form.addEventListener("change", liveStop);
    liveStop();
    const keptNow = () => {
      if (saved && stopNote && !stopNote.hidden) saved.prepend(stopNote);  // the stop words stay in sight
      form.hidden = true;
      show(saved, true);
      if (saved) saved.focus();
    };
    // Sent there by the service worker: a plain post found no network and the log was kept.
    if (new URLSearchParams(location.search).get("kept") === "1") keptNow();
    form.addEventListener("submit", async (event) => {
      // A page fresh from the server, with signal: the plain post, as always (the service worker keeps the log
      // if the post finds no network).
      if (!fromCache && navigator.onLine) return;
      event.preventDefault();
      if (busy) return;  // a second tap while the first is being kept
      busy = true;
      try {
        const key = await Q.keyFor(form.elements.form_id.value, fromCache);
        form.elements.form_id.value = key;
        const fields = [...new FormData(form)].filter(([name]) => !["csrf_token", "form_id"].includes(name));
        const entry = { key, owner, fields, at: Date.now(), state: "waiting", stop: hasRedFlag(fields) };
        await Q.put(entry);
        const answer = navigator.onLine ? await Q.send(entry, csrf()) : { outcome: "offline" };
        if (answer.outcome === "saved" || answer.outcome === "already_saved") {
          location.assign(answer.stop_url || (entry.stop ? STOP_URL : answer.url));
          return;
        }
        if (answer.outcome === "invalid") {
          await Q.remove(key);
          form.submit();  // the server's own page: each reason beside its question, the answers kept
          return;
        }
        if (answer.outcome === "closed") await Q.put({ ...entry, state: "closed" });
        keptNow();
        await showNote();
        askForSync();
      } finally {
        busy = false;
      }
    });
    const again = document.querySelector("[data-offline-again]");
    if (again) {
      again.addEventListener("click", async () => {
        form.reset();
        form.elements.form_id.value = Q.newKey();
        form.querySelector(".p-actions").before(stopNote);
        show(stopNote, false);
        show(saved, false);
        form.hidden = false;
        form.elements.session_date.focus();
      });
    }
  };

  document.addEventListener("DOMContentLoaded", async () => {
    register();
    if (!Q) return;
    if (document.querySelector("meta[name='rehab-session-ended']")) await forgetPages();
    if (owner) await Q.setSession(owner, csrf());
    const form = document.querySelector("form[data-offline-log]");
    if (form && owner) queueForm(form);
    const leave = document.querySelector("form[data-leave]");
    if (leave) leave.addEventListener("submit", () => { forgetPages(); Q.forgetSession(); });
    window.addEventListener("online", sendWaiting);
    await showNote();
    await sendWaiting();
  });
})();

// The idle warning and the forms kept across a sign-in (rehab/security.py, rehab/kept_forms.py).
// Every page works without it: the server signs out and keeps a late form whatever this script does.
document.addEventListener("DOMContentLoaded", () => {
  restoreKeptForm();
  watchIdleSignOut();
});

// ------------------------------------------------------------------------------------------ idle warning

function watchIdleSignOut() {
  const banner = document.getElementById("idle-warning");
  if (!banner) return;
  const statusUrl = banner.dataset.sessionUrl;
  const warnMs = Number(banner.dataset.warnSeconds) * 1000;
  const title = banner.querySelector("[data-idle-title]");
  const detail = banner.querySelector("[data-idle-detail]");
  const spoken = banner.querySelector("[data-idle-spoken]");
  const stay = banner.querySelector("form[data-idle-stay]");
  const signIn = banner.querySelector("[data-idle-sign-in]");
  // Tabs of this browser share one session: one that stays signed in tells the others to ask again.
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("rehab-session") : null;
  let deadline = Date.now() + Number(banner.dataset.secondsLeft) * 1000;
  let endsByLimit = banner.dataset.endsAtLimit === "true";
  let timer = null;
  let ticker = null;
  let lastPoll = 0;
  let signedOut = false;
  let previousFocus = null;  // where the therapist was typing, given back after "Stay signed in"

  function schedule() {
    clearTimeout(timer);
    const untilWarning = deadline - warnMs - Date.now();
    if (untilWarning > 0) {
      hide();
      // Browsers cap timers near 24 days; a tab left asleep simply asks again when it wakes.
      timer = setTimeout(check, Math.min(untilWarning, 2 ** 30));
    } else {
      show();
    }
  }

  // Ask the server how long is left: another tab may have been used, or signed out, since this page loaded.
  // The answer does not extend the session. Signed out, the server answers with its redirect to sign-in.
  async function check() {
    lastPoll = Date.now();
    let answer = null;
    try {
      const response = await fetch(statusUrl, { redirect: "manual", credentials: "same-origin",
                                                headers: { Accept: "application/json" } });
      if (response.ok) answer = await response.json();
      else if (response.type !== "opaqueredirect" && response.status !== 0) return retrySoon();
    } catch (error) {
      return retrySoon();  // offline for a moment: keep the countdown and ask again
    }
    if (!answer || !answer.signed_in) return showSignedOut();
    update(answer);
  }

  function retrySoon() {
    clearTimeout(timer);
    timer = setTimeout(check, 10000);
  }

  function update(answer) {
    deadline = Date.now() + answer.seconds_left * 1000;
    endsByLimit = answer.limit;
    schedule();
  }

  function show() {
    if (signedOut) return;
    const firstTime = banner.hidden;
    banner.hidden = false;
    document.body.classList.add("has-idle-warning");
    stay.hidden = endsByLimit;
    signIn.hidden = true;
    if (firstTime) {
      previousFocus = document.activeElement;
      // Set after the banner is visible, so screen readers announce the alert.
      title.textContent = "";
      requestAnimationFrame(() => tick(true));
    }
    clearInterval(ticker);
    ticker = setInterval(tick, 1000);
  }

  function tick(announce = false) {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const clock = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    title.textContent = `You will be signed out in ${clock}`;
    if (announce || !detail.textContent) {
      // Read out once: the time in words, then what to do.
      spoken.textContent = `You will be signed out in ${left < 90 ? `${left} seconds` : `about ${Math.round(left / 60)} minutes`}.`;
      detail.textContent = endsByLimit
        ? "Your session reaches its time limit. Save what you are typing now; you will need to sign in again."
        : "Nothing was sent to the server for a while. Press \u201cStay signed in\u201d to keep working.";
    }
    if (left === 0 || Date.now() - lastPoll > 10000) {
      // Every 10 seconds while the warning shows, and at zero: the sign-out is the server's decision.
      clearInterval(ticker);
      check();
    }
  }

  function hide() {
    clearInterval(ticker);
    banner.hidden = true;
    document.body.classList.remove("has-idle-warning");
    detail.textContent = "";
    spoken.textContent = "";
  }

  function showSignedOut() {
    signedOut = true;
    clearInterval(ticker);
    clearTimeout(timer);
    banner.hidden = false;
    document.body.classList.add("has-idle-warning");
    stay.hidden = true;
    const hasForm = document.querySelector("main form[method='post'] input[name='form_page']");
    title.textContent = "You were signed out";
    spoken.textContent = "You were signed out.";
    detail.textContent = hasForm
      ? "Nothing was lost: press Save on your form and sign in again. You will come back to the form with " +
        "what you typed, to check it and save it."
      : "Sign in again to go on working.";
    signIn.hidden = Boolean(hasForm);
    signIn.href = banner.dataset.signInUrl;
  }

  stay.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const response = await fetch(stay.getAttribute("action"), { method: "POST", body: new FormData(stay), redirect: "manual",
                                                  credentials: "same-origin",
                                                  headers: { Accept: "application/json" } });
      if (!response.ok) return showSignedOut();
      update(await response.json());
      if (channel) channel.postMessage("extended");
      if (previousFocus && document.contains(previousFocus)) previousFocus.focus();
    } catch (error) {
      detail.textContent = "The server could not be reached. Check the connection and press \u201cStay signed in\u201d again.";
    }
  });

  if (channel) channel.addEventListener("message", () => { if (!signedOut) check(); });
  // A tab that slept (a laptop lid, a phone) may have missed its timer.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !signedOut) check();
  });
  schedule();
}

// ------------------------------------------------------------------------------------------ kept form

function restoreKeptForm() {
  const note = document.getElementById("kept-note");
  if (!note) return;
  const fields = JSON.parse(note.dataset.keptFields);
  const form = findKeptForm(note.dataset.keptAction, fields);
  if (!form) {
    showMissing(note, fields.filter(([name]) => name !== "form_id"));
    note.focus();
    return;
  }
  const values = new Map();
  for (const [name, value] of fields) {
    if (!values.has(name)) values.set(name, []);
    values.get(name).push(value);
  }
  const placed = new Set();
  const seen = new Map();
  for (const element of form.elements) {
    const name = element.name;
    if (!name || name === "csrf_token" || element.type === "password" || element.type === "file") continue;
    if (element.type === "submit" || element.type === "button" || element.type === "reset") continue;
    const kept = values.get(name) || [];
    if (element.type === "checkbox" || element.type === "radio") {
      // A box left unticked sends nothing, so one absent from the kept form was unticked.
      element.checked = kept.includes(element.value);
      element.dispatchEvent(new Event("change", { bubbles: true }));
      if (kept.length) placed.add(name);
    } else if (element.multiple && element.options) {
      for (const option of element.options) option.selected = kept.includes(option.value);
      element.dispatchEvent(new Event("change", { bubbles: true }));
      if (kept.length) placed.add(name);
    } else if (kept.length) {
      // The n-th field of a name gets the n-th kept value of that name.
      const index = seen.get(name) || 0;
      seen.set(name, index + 1);
      if (index < kept.length) {
        element.value = kept[index];
        // What listens to typing (a long text's counter, forms.js) sees the restored text as typed.
        element.dispatchEvent(new Event(element.tagName === "SELECT" ? "change" : "input", { bubbles: true }));
        placed.add(name);
      }
    }
  }
  const marker = document.createElement("input");
  marker.type = "hidden";
  marker.name = "kept_form";
  marker.value = note.dataset.keptId;
  form.append(marker);
  showMissing(note, fields.filter(([name]) => !placed.has(name) && !form.elements.namedItem(name)));
  note.focus();
}

// The form of this page that posts where the kept one did; of several, the one with the same one-time id.
function findKeptForm(action, fields) {
  // getAttribute: a field named "action" or "method" hides the form's own properties of those names.
  const forms = [...document.querySelectorAll("main form")].filter(
    (form) => (form.getAttribute("method") || "").toLowerCase() === "post"
      && new URL(form.getAttribute("action") || location.href, location.href).pathname === action);
  const formId = (fields.find(([name]) => name === "form_id") || [])[1];
  return forms.find((form) => form.elements.namedItem("form_id")?.value === formId) || forms[0] || null;
}

// What could not be put back (the page changed since): listed, so nothing typed is lost without a word.
function showMissing(note, missing) {
  const typed = missing.map(([, value]) => value.trim()).filter((value) => value !== "");
  if (!typed.length) return;
  note.querySelector("[data-kept-missing-list]").textContent = typed.join(" · ");
  note.querySelector("[data-kept-missing]").hidden = false;
}

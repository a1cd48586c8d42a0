// Text limits, counted where the text is typed. A field with data-limit has no maxlength attribute on purpose:
// maxlength cuts a pasted text to fit without a word. Here the whole text stays, the count beside it says how
// far over it is, and Save is held back (with the field focused) until it fits. The server refuses text over
// its limit too, with the same figures, so the limit holds without this script.
(() => {
  const number = (value) => value.toLocaleString(document.documentElement.lang || "en");
  const fill = (words, values) => words.replace(/%\((\w+)\)s/g, (_, name) => values[name]);

  // The words of the counter; a page in another language states them on the field (data-count-words...).
  const countWords = (field) => field.dataset.countWords || "%(count)s of %(limit)s characters.";
  const overWords = (field) =>
    field.dataset.overWords || "%(over)s characters too many: shorten the text to save it. Nothing is cut for you.";

  // A one-line field (no counter in the page) gets its counter on first need, right after it, aria-described.
  function addCounter(field) {
    const counter = document.createElement("p");
    counter.className = "counter";
    counter.id = `${field.id || field.name}-count`;
    const count = document.createElement("span");
    count.dataset.count = "";
    const alert = document.createElement("span");
    alert.className = "limit-alert";
    alert.dataset.over = "";
    alert.setAttribute("role", "alert");
    counter.append(count, " ", alert);
    field.insertAdjacentElement("afterend", counter);
    field.setAttribute("aria-describedby", `${field.getAttribute("aria-describedby") || ""} ${counter.id}`.trim());
    field.dataset.counter = counter.id;
    return counter;
  }

  // Returns whether the text fits.
  function update(field) {
    const limit = Number(field.dataset.limit);
    const length = field.value.length;
    const over = length - limit;
    const near = length > limit * 0.8;
    let counter = field.dataset.counter && document.getElementById(field.dataset.counter);
    if (!counter) {
      if (!near) return true;
      counter = addCounter(field);
    }
    if (field.dataset.oneLine) counter.hidden = !near;  // a short field shows its count only near the limit
    counter.classList.toggle("over", over > 0);
    const count = counter.querySelector("[data-count]");
    if (count.dataset.empty === undefined) count.dataset.empty = count.textContent;  // "Up to 2,000 characters."
    count.textContent = length === 0 && count.dataset.empty
      ? count.dataset.empty : fill(countWords(field), { count: number(length), limit: number(limit) });
    const alert = counter.querySelector("[data-over]");
    const text = over > 0 ? fill(overWords(field), { over: number(over), limit: number(limit) }) : "";
    if (alert.textContent !== text) alert.textContent = text;  // announced when it changes, not at each key
    if (over > 0) field.setAttribute("aria-invalid", "true");
    else if (!field.closest(".has-error")) field.removeAttribute("aria-invalid");
    return over <= 0;
  }

  // Text fields only: a data-limit elsewhere is no text limit.
  const LIMITED = "input[data-limit], textarea[data-limit]";

  document.addEventListener("DOMContentLoaded", () => {
    const fields = document.querySelectorAll(LIMITED);
    fields.forEach((field) => {
      if (!field.dataset.counter) field.dataset.oneLine = "1";
      update(field);
      field.addEventListener("input", () => update(field));
    });
    document.querySelectorAll("form").forEach((form) => {
      // Captured, so it runs before any "are you sure?" (static/js/app.js) for a form that cannot be sent yet.
      form.addEventListener("submit", (event) => {
        const tooLong = [...form.querySelectorAll(LIMITED)].filter((field) => !update(field));
        if (tooLong.length) {
          event.preventDefault();
          event.stopImmediatePropagation();
          tooLong[0].focus();
        }
      }, true);
    });
  });
})();

// A form applies once (rehab/once.py): each carries a one-time form_id, and the server answers a form sent again
// with "Already saved". Pages are sent with Cache-Control: no-store (they hold patient data), so Back never shows
// the page from memory: the browser fetches it again, with a new form_id, and then refills the fields with what
// was typed. Save on that page would apply the same form a second time. So when a form is sent, its id is kept in
// this page's history entry, and a page reached again by Back or Forward gives each form it had sent its id back:
// the server sees the same form again and shows what it saved. (Forms that create a record also keep their id in
// the page's address, which covers a browser without this script.)
(() => {
  const KEY = "rehabSentForms";
  const formKey = (form, index) => `${form.getAttribute("action") || location.pathname + location.search}|${index}`;
  const keyed = () => {
    const seen = new Map();
    return [...document.querySelectorAll("form")].filter((form) => form.elements.namedItem("form_id"))
      .map((form) => {
        const base = formKey(form, 0).split("|")[0];
        const index = seen.get(base) || 0;
        seen.set(base, index + 1);
        return [form, formKey(form, index)];
      });
  };
  const cameBack = () => {
    const [entry] = performance.getEntriesByType("navigation");
    return entry !== undefined && entry.type === "back_forward";
  };

  document.addEventListener("DOMContentLoaded", () => {
    const sent = (history.state && history.state[KEY]) || {};
    keyed().forEach(([form, key]) => {
      const field = form.elements.namedItem("form_id");
      if (cameBack() && sent[key]) field.value = sent[key];
      form.addEventListener("submit", (event) => {
        if (event.defaultPrevented) return;  // not sent (a question answered "no", a text over its limit)
        const state = history.state && typeof history.state === "object" ? history.state : {};
        history.replaceState({ ...state, [KEY]: { ...(state[KEY] || {}), [key]: field.value } }, "");
      });
    });
  });
})();

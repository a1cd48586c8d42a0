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
    counter.querySelector("[data-count]").textContent =
      fill(countWords(field), { count: number(length), limit: number(limit) });
    const alert = counter.querySelector("[data-over]");
    const text = over > 0 ? fill(overWords(field), { over: number(over), limit: number(limit) }) : "";
    if (alert.textContent !== text) alert.textContent = text;  // announced when it changes, not at each key
    if (over > 0) field.setAttribute("aria-invalid", "true");
    else if (!field.closest(".has-error")) field.removeAttribute("aria-invalid");
    return over <= 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const fields = document.querySelectorAll("[data-limit]");
    fields.forEach((field) => {
      if (!field.dataset.counter) field.dataset.oneLine = "1";
      update(field);
      field.addEventListener("input", () => update(field));
    });
    document.querySelectorAll("form").forEach((form) => {
      // Captured, so it runs before any "are you sure?" (static/js/app.js) for a form that cannot be sent yet.
      form.addEventListener("submit", (event) => {
        const tooLong = [...form.querySelectorAll("[data-limit]")].filter((field) => !update(field));
        if (tooLong.length) {
          event.preventDefault();
          event.stopImmediatePropagation();
          tooLong[0].focus();
        }
      }, true);
    });
  });
})();

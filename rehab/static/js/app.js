// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // After a failed save, move focus to the error summary so screen readers announce it.
  const summary = document.querySelector("[data-focus]");
  if (summary) summary.focus();

  // The clinic switcher submits on change (a button is shown when scripts are off).
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  // Ask before actions marked as needing confirmation.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});

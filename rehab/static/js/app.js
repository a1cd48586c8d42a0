// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // After a failed save, move focus to the error summary so screen readers announce it.
  const summary = document.querySelector("[data-focus]");
  if (summary) summary.focus();

  // After the builder adds, removes or moves a phase or exercise, put the focus where the change happened.
  const focusTarget = document.getElementById("focus-target");
  if (focusTarget && !summary) {
    const element = document.getElementById(focusTarget.value);
    if (element) {
      element.scrollIntoView({ block: "center" });
      element.focus({ preventScroll: true });
    }
  }

  // A menu of the top bar closes on a click elsewhere or on Escape (without scripts it closes on its own button).
  document.querySelectorAll("details[data-menu]").forEach((menu) => {
    document.addEventListener("click", (event) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });

  // The clinic switcher submits on change (a button is shown when scripts are off).
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  // Copy buttons (the share card): copy the named field's text with the Clipboard API and say so in the status
  // next to the button. Where the browser refuses, the field's text is selected for Ctrl+C instead. Without
  // scripts the buttons stay hidden and the field itself can be selected.
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.copyStatus);
    if (!field || !status) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = "Copied";
      } catch (error) {
        field.focus();
        field.select();
        status.textContent = "Selected: press Ctrl+C (⌘C on a Mac) to copy";
      }
    });
  });

  // Ask before actions marked as needing confirmation.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});

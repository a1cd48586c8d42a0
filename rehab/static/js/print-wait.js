// Waiting for printing (templates/handouts/waiting.html, templates/portal/sheet_waiting.html,
// templates/print_jobs/job.html): asks the server four times a second how the sheet, report or batch is doing,
// keeps the words and the bar up to date, and opens a single PDF as soon as it is ready. Without scripts, the
// pages refresh themselves every few seconds instead.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-print-wait], [data-print-job]");
  if (!box || box.hasAttribute("data-finished")) return;
  const single = box.hasAttribute("data-print-wait");
  const words = box.querySelector("[data-print-words]");
  const stopped = box.querySelector("[data-print-stopped]");
  const bar = box.querySelector("[data-print-bar]");
  const open = box.querySelector("[data-print-open]");
  const openWrap = box.querySelector("[data-print-open-wrap]");
  const failedWrap = box.querySelector("[data-print-failed]");
  const failedList = box.querySelector("[data-print-failed-list]");
  let delay = 250;
  const began = Date.now();

  function showFailed(failed) {
    if (!failedList || !failed.length) return;
    failedList.replaceChildren(...failed.map((item) => {
      const line = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = item.name;
      line.append(name, `: ${item.problem}`);
      return line;
    }));
    failedWrap.hidden = false;
  }

  async function ask() {
    let answer;
    try {
      const response = await fetch(box.dataset.stateUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      answer = await response.json();
    } catch (error) {
      delay = Math.min(delay * 2, 5000); // the server is busy or restarting: ask less often, keep waiting
      window.setTimeout(ask, delay);
      return;
    }
    delay = 250;
    if (stopped) stopped.hidden = answer.worker_running;
    if (single) {
      if (answer.state === "ready") {
        // A page that stays while its PDF downloads (the patient's sheet on a phone) says it is ready.
        const waiting = box.querySelector("[data-print-waiting]");
        const ready = box.querySelector("[data-print-ready]");
        if (waiting && ready) {
          waiting.hidden = true;
          ready.hidden = false;
        }
        window.location.replace(answer.pdf_url);
        return;
      }
      if (answer.state === "failed") {
        window.location.reload(); // the page says so, with a way to try again
        return;
      }
      if (answer.worker_running && Date.now() - began > 20000) {
        // A sheet takes about a second; one still not made after 20 s was lost by a worker that stopped while
        // making it. Opening the sheet's address asks for it again (and comes back here while it renders).
        window.location.replace(answer.pdf_url);
        return;
      }
    } else {
      bar.max = answer.total;
      bar.value = answer.done;
      bar.textContent = `${answer.done} of ${answer.total}`;
      words.textContent = answer.words;
      showFailed(answer.failed);
      if (answer.finished) {
        if (answer.pdf_url) {
          open.href = answer.pdf_url;
          open.textContent = `Open the PDF of ${answer.printed} sheet${answer.printed === 1 ? "" : "s"}`;
          openWrap.hidden = false;
          open.focus();
        }
        return;
      }
    }
    window.setTimeout(ask, delay);
  }
  window.setTimeout(ask, 150);
});

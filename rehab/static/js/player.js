/* The guided session: plays the plan the page carries (#player-data, every word already in the patient's
   language) with a big countdown, spoken cues (Web Speech API; a beep and a vibration where speech is missing),
   the screen kept on (Screen Wake Lock), pause and resume, and "I had to stop". No request is made until the
   log form opens at the end, with the backward minutes done (and why it stopped) in its address. */
(function () {
  "use strict";

  var root = document.querySelector("[data-player]");
  var source = document.getElementById("player-data");
  if (!root || !source) { return; }
  var data = JSON.parse(source.textContent);
  var segments = data.segments;
  var words = data.words;
  var ends = [];
  var total = 0;
  segments.forEach(function (segment) { total += segment.seconds; ends.push(total); });

  var state = "ready";      // ready | running | paused | asking | done | stop
  var doneBefore = 0;       // milliseconds run before the current stretch
  var runningSince = 0;     // Date.now() when the current stretch began
  var pausedFrom = "running";
  var current = -1;         // the segment announced last
  var warned = -1;          // the segment whose "in 10 seconds" was said
  var timer = null;
  var wakeLock = null;
  var audio = null;

  function $(selector) { return root.querySelector(selector); }
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }
  function show(view) {
    root.querySelectorAll("[data-view]").forEach(function (element) {
      element.hidden = element.getAttribute("data-view") !== view;
    });
  }
  function clock(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var m = Math.floor(s / 60);
    var rest = s % 60;
    return m + ":" + (rest < 10 ? "0" : "") + rest;
  }
  function elapsed() {
    return (doneBefore + (state === "running" ? Date.now() - runningSince : 0)) / 1000;
  }
  function segmentAt(seconds) {
    for (var i = 0; i < ends.length; i += 1) { if (seconds < ends[i]) { return i; } }
    return ends.length;
  }
  function backwardSecondsDone(seconds) {
    var done = 0;
    var start = 0;
    segments.forEach(function (segment, i) {
      if (segment.kind === "backward") { done += Math.max(0, Math.min(seconds, ends[i]) - start); }
      start = ends[i];
    });
    return done;
  }
  // As services/session_plan.minutes_done: to the half minute the log form takes, at least 0.5 once started.
  function minutesDone(seconds) {
    var back = backwardSecondsDone(seconds);
    if (back <= 0) { return 0; }
    return Math.max(0.5, Math.round(back / 30) / 2);
  }

  // ---------------------------------------------------------------- cues: speech, else a beep and a vibration
  function voiceFor(lang) {
    if (!("speechSynthesis" in window)) { return false; }
    var voices = window.speechSynthesis.getVoices ? window.speechSynthesis.getVoices() : [];
    if (!voices || voices.length === 0) { return true; }  // still loading: the browser picks one by lang
    return voices.some(function (voice) { return (voice.lang || "").toLowerCase().indexOf(lang) === 0; });
  }
  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      audio = audio || new Context();
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.value = 0.2;
      oscillator.connect(gain);
      gain.connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + 0.35);
    } catch (error) { /* no sound on this phone: the screen still shows everything */ }
  }
  function say(text) {
    $("[data-status]").textContent = text;
    if (voiceFor(data.lang)) {
      try {
        var utterance = new window.SpeechSynthesisUtterance(text);
        utterance.lang = data.lang;
        window.speechSynthesis.cancel();
        window.speechSynthesis.speak(utterance);
        return;
      } catch (error) { /* fall through to the beep */ }
    }
    beep();
    if (navigator.vibrate) { navigator.vibrate([300, 150, 300]); }
  }

  // ---------------------------------------------------------------- the screen kept on while the session runs
  function keepAwake() {
    if (!("wakeLock" in navigator) || wakeLock) { return; }
    navigator.wakeLock.request("screen").then(function (lock) {
      wakeLock = lock;
      lock.addEventListener("release", function () { wakeLock = null; });
    }).catch(function () { wakeLock = null; });
  }
  function letSleep() {
    if (wakeLock) { wakeLock.release().catch(function () {}); wakeLock = null; }
  }
  document.addEventListener("visibilitychange", function () {
    // The browser drops the lock when the page is hidden; take it again on return.
    if (document.visibilityState === "visible" && (state === "running" || state === "paused")) { keepAwake(); }
  });

  // ---------------------------------------------------------------- drawing and the tick
  function draw() {
    var seconds = elapsed();
    var index = segmentAt(seconds);
    if (index >= segments.length) { finish(false); return; }
    var segment = segments[index];
    var left = ends[index] - seconds;
    if (index !== current) {
      current = index;
      $("[data-name]").textContent = segment.name;
      $("[data-exercise]").textContent = segment.exercise;
      $("[data-part]").textContent = fill(words.part, { number: index + 1, count: segments.length });
      $("[data-next]").textContent = index + 1 < segments.length
        ? fill(words.next, { name: segments[index + 1].name }) : words.last;
      root.setAttribute("data-kind", segment.kind);
      if (state === "running") { say(segment.cue); }
    }
    if (state === "running" && segment.soon && warned !== index && left <= 10 && left > 9) {
      warned = index;
      say(segment.soon);
    }
    $("[data-clock]").textContent = clock(left);
    $("[data-left]").textContent = fill(words.left, { time: clock(total - seconds) });
    $("[data-bar]").style.width = (100 * (seconds - (ends[index] - segment.seconds)) / segment.seconds) + "%";
  }
  function tick() { if (state === "running") { draw(); } }

  function start() {
    state = "running";
    runningSince = Date.now();
    show("run");
    keepAwake();
    draw();
    timer = window.setInterval(tick, 250);
  }
  function pause() {
    if (state !== "running") { return; }
    doneBefore += Date.now() - runningSince;
    state = "paused";
    $("[data-paused]").hidden = false;
    $("[data-action=pause]").hidden = true;
    $("[data-action=resume]").hidden = false;
    $("[data-action=resume]").focus();
    say(words.paused);
  }
  function resume() {
    if (state !== "paused") { return; }
    state = "running";
    runningSince = Date.now();
    $("[data-paused]").hidden = true;
    $("[data-action=pause]").hidden = false;
    $("[data-action=resume]").hidden = true;
    $("[data-action=pause]").focus();
    say(words.resumed);
    draw();
  }
  function logAddress(link, minutes, reason) {
    var address = new URL(link.getAttribute("href"), window.location.href);
    if (minutes > 0) { address.searchParams.set("minutes", String(minutes)); }
    if (reason) { address.searchParams.set("stopped", reason); } else { address.searchParams.set("guided", "1"); }
    link.setAttribute("href", address.pathname + address.search);
  }
  function finish(reason) {
    var seconds = Math.min(elapsed(), total);
    if (state === "running") { doneBefore += Date.now() - runningSince; }
    window.clearInterval(timer);
    letSleep();
    var minutes = minutesDone(seconds);
    if (reason && data.redFlags.indexOf(reason) >= 0) {
      // The knee gave way or a near fall: the stop screen at once, and the log that alerts the therapist.
      state = "stop";
      show("none");
      var stop = root.querySelector("[data-player-stop]");
      stop.hidden = false;
      root.querySelector("[data-player-stop-log]").hidden = false;
      logAddress(root.querySelector("[data-log-red]"), minutes, reason);
      say(words.stopNow);
      stop.focus();
      return;
    }
    state = "done";
    show("done");
    var title = $("[data-done-title]");
    title.textContent = title.getAttribute(reason ? "data-stopped" : "data-finished");
    var line = $("[data-done-minutes]");
    line.textContent = fill(line.getAttribute("data-words"), { minutes: String(minutes).replace(".", data.lang === "es" ? "," : ".") });
    logAddress($("[data-log]"), minutes, reason);
    say(reason ? words.stopped : words.finished);
    $("[data-view=done]").focus();
  }
  function ask() {
    if (state === "running") { pause(); }
    pausedFrom = state;
    state = "asking";
    show("ask");
    var first = root.querySelector("[data-view=ask] input");
    if (first) { first.focus(); }
  }
  function back() {
    state = pausedFrom === "paused" ? "paused" : "paused";
    show("run");
    $("[data-action=resume]").focus();
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) { return; }
    var action = button.getAttribute("data-action");
    if (action === "start") { start(); }
    if (action === "pause") { pause(); }
    if (action === "resume") { resume(); }
    if (action === "ask") { ask(); }
    if (action === "back") { back(); }
  });
  root.querySelector("[data-view=ask]").addEventListener("submit", function (event) {
    event.preventDefault();
    var chosen = root.querySelector("[data-view=ask] input[name=reason]:checked");
    var error = root.querySelector("[data-ask-error]");
    if (!chosen) { error.hidden = false; return; }
    error.hidden = true;
    finish(chosen.value);
  });
})();

// A running job's page, live: stage, progress, timeline and log follow the job's
// Server-Sent Events; when the job ends the page reloads to show the results. Without this
// script the page refreshes itself every few seconds instead.
(function () {
  "use strict";
  var root = document.getElementById("job-live");
  if (!root || root.getAttribute("data-live") !== "true" || !window.EventSource) return;
  var id = root.getAttribute("data-job");
  var after = root.getAttribute("data-after") || "0";
  var stage = document.getElementById("job-stage");
  var bar = document.getElementById("job-progress");
  var timeline = document.getElementById("job-timeline");
  var log = document.getElementById("job-log");
  var badge = document.getElementById("job-state");
  // The page shows everything up to data-after; the stream brings what follows.
  var source = new EventSource("/api/v1/jobs/" + encodeURIComponent(id) + "/events?after=" + encodeURIComponent(after));

  function parse(e) {
    try { return JSON.parse(e.data).data || {}; } catch (err) { return {}; }
  }
  source.addEventListener("stage", function (e) {
    var d = parse(e);
    stage.textContent = d.stage || "";
    bar.value = 0;
    var current = timeline.querySelector("[aria-current]");
    if (current) current.removeAttribute("aria-current");
    var li = document.createElement("li");
    li.setAttribute("aria-current", "step");
    var name = document.createElement("span");
    name.textContent = d.stage || "";
    li.appendChild(name);
    timeline.appendChild(li);
  });
  source.addEventListener("progress", function (e) {
    var d = parse(e);
    if (d.total > 0) {
      var pct = Math.round((d.done / d.total) * 100);
      bar.value = pct;
      bar.textContent = pct + " %";
    }
  });
  source.addEventListener("log", function (e) {
    var d = parse(e);
    log.textContent += (d.line || "") + "\n";
    var lines = log.textContent.split("\n");
    if (lines.length > 200) log.textContent = lines.slice(-200).join("\n");
  });
  source.addEventListener("state", function (e) {
    var d = parse(e);
    if (!d.state) return;
    badge.textContent = d.state;
    badge.className = "badge badge-job-" + d.state;
    if (d.state === "succeeded" || d.state === "failed" || d.state === "cancelled") {
      source.close();
      window.location.reload();
    }
  });
})();

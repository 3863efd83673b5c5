// Dataset upload with a progress bar. Without this script the form posts as it is (the
// server streams it the same way); with it the file goes to the API with progress shown.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var input = document.getElementById("file");
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var status = document.getElementById("upload-status");
  var errorBox = document.getElementById("upload-error");
  var token = form.querySelector("input[name=csrf_token]").value;

  function showError(message) {
    errorBox.textContent = "";
    var p = document.createElement("p");
    p.textContent = message;
    errorBox.appendChild(p);
    errorBox.hidden = false;
    box.hidden = true;
  }

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!file) return;
    event.preventDefault();
    var name = file.name;
    var type = /\.(parquet|pq)$/i.test(name) ? "application/vnd.apache.parquet" : "text/csv";
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/datasets?name=" + encodeURIComponent(name));
    xhr.setRequestHeader("Content-Type", type);
    xhr.setRequestHeader("X-CSRF-Token", token);
    errorBox.hidden = true;
    box.hidden = false;
    bar.value = 0;
    status.textContent = "0 %";
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.floor((e.loaded / e.total) * 100);
      bar.value = pct;
      bar.textContent = pct + " %";
      status.textContent = pct === 100 ? "Checking the file…" : pct + " %";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201 || xhr.status === 200) {
        window.location.assign("/account/datasets?notice=" + (xhr.status === 201 ? "uploaded" : "existing"));
        return;
      }
      var message = "The upload failed (HTTP " + xhr.status + ").";
      try {
        message = JSON.parse(xhr.responseText).error.message || message;
      } catch (e) { /* keep the generic message */ }
      showError(message);
    });
    xhr.addEventListener("error", function () {
      showError("The upload was interrupted. If the file is larger than your license allows, the server stops reading it; otherwise check your connection and try again.");
    });
    xhr.send(file);
  });
})();

// The transcript page's only script: a "Copy" button and the language's name on every code
// block. Loaded from the plugin's static folder (no inline script, nothing from the internet).
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function addButtons() {
    var blocks = document.querySelectorAll(".archiver-transcript .md pre");
    Array.prototype.forEach.call(blocks, function (pre) {
      if (pre.querySelector("button.copy")) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy code");
      button.addEventListener("click", function () {
        var code = pre.querySelector("code") || pre;
        copyText(code.textContent).then(function () {
          button.textContent = "Copied";
        }, function () {
          button.textContent = "Copy failed";
        });
        window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
      pre.appendChild(button);
      var language = /(?:^|\s)language-([\w+#.-]{1,30})(?:\s|$)/.exec((pre.querySelector("code") || pre).className);
      if (language) {
        var label = document.createElement("span");
        label.className = "code-language";
        label.textContent = language[1];
        pre.appendChild(label);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addButtons);
  } else {
    addButtons();
  }
})();

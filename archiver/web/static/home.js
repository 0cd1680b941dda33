// The conversation list: "/" focuses search, arrow keys (or j/k) move through conversations,
// Enter opens the focused one (it is a link), and the title filter narrows the list as you
// type (the loaded rows at once, then the server's answer over every conversation).
// Served from the plugin's static folder: pages carry no inline script.
(function () {
  "use strict";
  const list = document.getElementById("conversation-list");
  const search = document.querySelector("form.archiver-search input[name=q]");
  const filter = document.querySelector("form.title-filter input[name=title]");

  const links = () => Array.from(document.querySelectorAll("#conversation-list a.conversation"))
    .filter((a) => !a.closest("li").hidden);

  function move(step) {
    const all = links();
    if (!all.length) return;
    const at = all.indexOf(document.activeElement);
    const next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    all[next].focus();
    all[next].scrollIntoView({block: "nearest"});
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.matches("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !typing && search) {
      event.preventDefault();
      search.focus();
      search.select();
    } else if (event.key === "ArrowDown" || (event.key === "j" && !typing)) {
      if (typing && event.target !== filter && event.target !== search) return;
      event.preventDefault();
      move(1);
    } else if (event.key === "ArrowUp" || (event.key === "k" && !typing)) {
      if (typing) return;
      event.preventDefault();
      const all = links();
      if (all.indexOf(document.activeElement) === 0 && filter) filter.focus();
      else move(-1);
    } else if (event.key === "Escape" && typing) {
      event.target.blur();
    }
  });

  if (!list || !filter) return;

  // Older conversations: append the next page instead of leaving this one.
  list.addEventListener("click", async (event) => {
    const more = event.target.closest("a.more[data-fragment]");
    if (!more) return;
    event.preventDefault();
    const html = await (await fetch(more.dataset.fragment, {credentials: "same-origin"})).text();
    more.closest("p.more").remove();
    const box = document.createElement("div");
    box.innerHTML = html;  // our own server's rendering, escaped there
    const first = box.querySelector("section.conv-group");
    const groups = list.querySelectorAll("section.conv-group");
    const last = groups[groups.length - 1];
    if (first && last && first.dataset.group === last.dataset.group) {
      last.querySelector("ol").append(...first.querySelectorAll("li"));
      first.remove();
    }
    list.append(...box.childNodes);
  });

  let pending = null;
  let sequence = 0;
  filter.addEventListener("input", () => {
    const words = filter.value.trim().toLowerCase();
    for (const item of list.querySelectorAll("li")) {  // at once, on what is loaded
      item.hidden = words !== "" && !item.querySelector(".title").textContent.toLowerCase().includes(words);
    }
    for (const group of list.querySelectorAll("section.conv-group")) {
      group.hidden = !group.querySelector("li:not([hidden])");
    }
    clearTimeout(pending);
    pending = setTimeout(async () => {  // then every conversation, from the server
      const mine = ++sequence;
      const url = filter.dataset.fragment + (words ? "?title=" + encodeURIComponent(filter.value.trim()) : "");
      const html = await (await fetch(url, {credentials: "same-origin"})).text();
      if (mine !== sequence) return;  // a newer keystroke's answer will come
      list.innerHTML = html;
      list.dataset.filtered = words;
      history.replaceState(null, "", words ? "?title=" + encodeURIComponent(filter.value.trim()) : location.pathname);
    }, 150);
  });
  filter.closest("form").addEventListener("submit", (event) => event.preventDefault());
})();

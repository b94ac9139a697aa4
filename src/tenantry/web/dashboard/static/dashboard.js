/* Keeps the keyboard focus somewhere sensible when htmx replaces the element that had it
   (a pager link, a "Cancel" or "Retry now" button): the new content, or its heading, gets it. */
(function () {
  "use strict";
  let targetId = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    targetId = target && target.id ? target.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    const id = targetId;
    targetId = null;
    const active = document.activeElement;
    if (!id || (active && active !== document.body && document.contains(active))) {
      return;
    }
    const swapped = document.getElementById(id);
    if (!swapped) {
      return;
    }
    const focusable = swapped.querySelector("h2") || swapped;
    focusable.setAttribute("tabindex", "-1");
    focusable.focus();
  });
})();

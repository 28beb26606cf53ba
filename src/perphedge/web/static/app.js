// perphedge local page: draws the charts the server describes (plotly figures as JSON in
// data-figure attributes) after a page load and after every htmx swap. No inline scripts:
// the page's Content-Security-Policy allows scripts from this server only.
(function () {
  "use strict";
  function draw(root) {
    if (typeof window.Plotly === "undefined") { return; }
    var found = Array.prototype.slice.call(root.querySelectorAll(".chart[data-figure]"));
    if (root.matches && root.matches(".chart[data-figure]")) { found.push(root); }
    found.forEach(function (el) {
      var figure = JSON.parse(el.getAttribute("data-figure"));
      el.removeAttribute("data-figure");
      var config = { responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["lasso2d", "select2d"] };
      window.Plotly.react(el, figure.data, figure.layout, config);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // every piece of content htmx puts in the page (also after an outerHTML swap)
  document.addEventListener("htmx:load", function (event) { draw(event.detail.elt); });
  // a range slider shows its value while it moves
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (el.matches && el.matches("input[type=range][data-output]")) {
      var out = document.getElementById(el.getAttribute("data-output"));
      if (out) { out.textContent = (el.value > 0 ? "+" : "") + el.value + " %"; }
    }
  });
})();

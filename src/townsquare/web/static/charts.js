// Console charts (web/charts.py): each .echart div is drawn by the vendored ECharts from the
// option in the JSON block beside it. ECharts is loaded only on pages that have a chart, once the
// page has loaded. Once a chart is drawn its data table is folded (one click opens it); without
// JavaScript it stays open.
(function () {
  "use strict";

  function draw() {
    var zh = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
    document.querySelectorAll("figure.echart-figure").forEach(function (figure) {
      var el = figure.querySelector(".echart");
      var data = figure.querySelector("script.echart-option");
      if (!el || !data || window.echarts.getInstanceByDom(el)) return;
      el.style.height = (parseInt(el.dataset.height, 10) || 300) + "px";
      var chart = window.echarts.init(el, null, { renderer: "svg", locale: zh ? "ZH" : "EN" });
      chart.setOption(JSON.parse(data.textContent));
      el.classList.add("echart-ready");
      var details = figure.querySelector("details.chart-data");
      if (details) details.open = false;
      if (window.ResizeObserver) {
        new ResizeObserver(function () { chart.resize(); }).observe(el);
      }
    });
  }

  var loading = false;

  function start() {
    if (!document.querySelector("figure.echart-figure")) return;
    if (window.echarts) { draw(); return; }
    // once: an htmx swap settling while the library loads (the inbox badge's hx-trigger=load)
    // would add it again, and each copy would draw every chart once more
    if (loading) return;
    loading = true;
    var script = document.createElement("script");
    script.src = "/static/vendor/echarts/echarts.common.min.js";
    script.onload = draw;
    document.head.appendChild(script);
  }

  // after the load event, so the 0.7 MB library never holds up the page's own loading
  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }
  // htmx swaps (filters, paging) may bring new charts in
  document.addEventListener("htmx:afterSettle", start);
})();

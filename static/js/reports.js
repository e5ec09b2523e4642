/*
 * Reports (templates/inbox/reports.html): draws each report's chart with Chart.js from the data the page
 * carries in <script type="application/json" id="report-charts"> (no inline script: the CSP forbids it).
 * Every chart's numbers are also in the table beside it, so nothing is lost without JavaScript.
 * Also shows the From / To dates only when the period is "Custom dates".
 */
(function () {
  'use strict';

  var COLOURS = ['#2f6fed', '#1c8a52', '#a45a00', '#7a4fd6'];
  var SOFT = ['rgba(47,111,237,.75)', 'rgba(28,138,82,.7)', 'rgba(164,90,0,.7)', 'rgba(122,79,214,.7)'];

  function readData() {
    var node = document.getElementById('report-charts');
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function config(spec) {
    var horizontal = !!spec.horizontal;
    var datasets = (spec.datasets || []).map(function (set, i) {
      var line = spec.type === 'line';
      return {
        label: set.label,
        data: set.data,
        borderColor: COLOURS[i % COLOURS.length],
        backgroundColor: line ? COLOURS[i % COLOURS.length] : SOFT[i % SOFT.length],
        borderWidth: line ? 2 : 0,
        borderRadius: line ? 0 : 3,
        pointRadius: line ? 0 : undefined,
        pointHitRadius: 8,
        tension: 0.3,
        cubicInterpolationMode: 'monotone',
        maxBarThickness: 28
      };
    });
    return {
      type: spec.type === 'line' ? 'line' : 'bar',
      data: { labels: spec.labels || [], datasets: datasets },
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: {
          legend: { display: datasets.length > 1, position: 'bottom', labels: { boxWidth: 12, boxHeight: 12 } }
        },
        scales: {
          x: { beginAtZero: true, grid: { display: horizontal }, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
          y: { beginAtZero: true, grid: { display: !horizontal }, ticks: { precision: 0 } }
        }
      }
    };
  }

  function draw() {
    var data = readData();
    if (!data || typeof window.Chart !== 'function') { return; }
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = '#6b7385';
    var canvases = document.querySelectorAll('canvas[data-chart]');
    Array.prototype.forEach.call(canvases, function (canvas) {
      var spec = data[canvas.getAttribute('data-chart')];
      if (!spec || !spec.datasets) { return; }
      canvas.__chart = new window.Chart(canvas, config(spec));
      canvas.setAttribute('data-drawn', 'true');
    });
  }

  function datesToggle() {
    var period = document.getElementById('id_period');
    if (!period) { return; }
    var dates = document.querySelectorAll('.report-dates');
    function sync() {
      var custom = period.value === 'custom';
      Array.prototype.forEach.call(dates, function (field) { field.hidden = !custom; });
    }
    period.addEventListener('change', sync);
    sync();
  }

  function start() {
    datesToggle();
    draw();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();

/*
 * Channel health: the events-per-hour chart (Chart.js, vendored), drawn from the page's JSON
 * (#events-data, written by json_script: no inline script under the CSP). The same numbers are in
 * the table beside it.
 */
(function () {
  'use strict';

  function hourLabel(iso) {
    var when = new Date(iso);
    return when.toLocaleTimeString(undefined, { hour: 'numeric' }) +
      (when.getHours() === 0 ? ' ' + when.toLocaleDateString(undefined, { day: 'numeric', month: 'short' }) : '');
  }

  function draw() {
    var data = document.getElementById('events-data');
    var canvas = document.getElementById('events-chart');
    if (!data || !canvas || !window.Chart) { return; }
    var series = JSON.parse(data.textContent);
    var styles = getComputedStyle(document.documentElement);
    var accent = styles.getPropertyValue('--accent').trim() || '#2f6fed';
    var danger = styles.getPropertyValue('--danger').trim() || '#c7362f';
    new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: series.labels.map(hourLabel),
        datasets: [
          { label: 'Received', data: series.received, backgroundColor: accent, stack: 'events' },
          { label: 'Failed or unroutable', data: series.problems, backgroundColor: danger, stack: 'problems' }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { ticks: { autoSkip: true, maxTicksLimit: 12, maxRotation: 0 }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { precision: 0 } }
        },
        plugins: { legend: { position: 'bottom' } }
      }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', draw);
  } else {
    draw();
  }
})();

/*
 * "Assign to me" only where it would change something. The conversation header is the same HTML for
 * every member (a push renders it once for the whole business), so the server cannot leave the button
 * out for the member it is already assigned to; the page knows who is looking (#inbox[data-user]) and
 * hides it whenever a header appears or changes.
 */
(function () {
  'use strict';

  function viewer() {
    var inbox = document.getElementById('inbox');
    return inbox ? inbox.getAttribute('data-user') || '' : '';
  }

  function apply() {
    var user = viewer();
    if (!user) { return; }
    document.querySelectorAll('.assign-bar').forEach(function (bar) {
      var form = bar.querySelector('.assign-me');
      var mine = bar.getAttribute('data-assignee') === user;
      if (form && form.hidden !== mine) { form.hidden = mine; }
    });
  }

  function start() {
    apply();
    var pane = document.getElementById('inbox');
    if (pane && window.MutationObserver) {
      new MutationObserver(apply).observe(pane, { childList: true, subtree: true });
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();

/* Comment threads: ask before deleting a comment on Meta (the form's button carries data-confirm), and
 * once an action on a comment is accepted, empty its text and fold its panel (inbox.js places the answer;
 * a comment whose markup did not change is not redrawn, so its panel would stay open with the old text). */
(function () {
  'use strict';
  function question(form) {
    var button = form && form.querySelector ? form.querySelector('[data-confirm]') : null;
    return button ? button.getAttribute('data-confirm') : '';
  }
  document.addEventListener('htmx:confirm', function (evt) {
    var text = question(evt.detail.elt);
    if (text && !window.confirm(text)) { evt.preventDefault(); }
  });
  document.addEventListener('submit', function (evt) {
    var form = evt.target;
    if (form.hasAttribute && form.hasAttribute('hx-post')) { return; }  // htmx asked already
    var text = question(form);
    if (text && !window.confirm(text)) { evt.preventDefault(); }
  });
  document.addEventListener('htmx:afterRequest', function (evt) {
    var form = evt.detail.elt;
    if (!evt.detail.successful || !form || !form.closest) { return; }
    var panel = form.closest('details.comment-actions');
    if (!panel) { return; }
    if (form.reset) { form.reset(); }
    panel.open = false;
  });
})();

/*
 * The contact panel beside a thread (templates/inbox/_contact_panel.html).
 *
 * Laptop: a column at the pane's right; the header's "Contact" button and the panel's close button
 * collapse and expand it, and the choice is remembered in this browser (localStorage). Narrow laptop or
 * tablet (up to 1100px, where app.css puts the filters on top): it opens over the thread. Phone (the
 * same 760px breakpoint as app.css's one-column layout): the panel opens as a bottom sheet over the
 * thread, a modal dialog with the focus inside; Escape, the close button or a tap outside closes it
 * and gives the focus back to the button that opened it.
 *
 * The header and the panel's live parts are replaced by pushes (static/js/inbox.js places them by
 * id): the buttons' aria-expanded and the panel's label chips (a mirror of the header's, which every
 * label change pushes) are put right after every change to the page.
 * Also here: the notes form's Cancel and "Add a detail", and focus when the form opens.
 */
(function () {
  'use strict';

  var STORE_KEY = 'inbox:contact-panel';
  var phoneQuery = window.matchMedia ? window.matchMedia('(max-width: 760px)') : null;
  var narrowQuery = window.matchMedia ? window.matchMedia('(max-width: 1100px)') : null;
  var opener = null;  // the button that opened the sheet, to give the focus back to
  var backdrop = null;

  function isPhone() { return !!(phoneQuery && phoneQuery.matches); }
  // A narrow laptop or tablet: the panel would squeeze the thread, so it opens over it (closed at first).
  function isNarrow() { return !isPhone() && !!(narrowQuery && narrowQuery.matches); }

  function aside() { return document.querySelector('#conversation-pane [data-contact-aside]'); }

  function storedClosed() {
    try { return window.localStorage.getItem(STORE_KEY) === 'closed'; } catch (e) { return false; }
  }

  function storeClosed(closed) {
    try { window.localStorage.setItem(STORE_KEY, closed ? 'closed' : 'open'); } catch (e) { /* private mode: not remembered */ }
  }

  function isOpen() {
    if (isPhone()) { return document.body.classList.contains('contact-sheet-open'); }
    if (isNarrow()) { return document.body.classList.contains('contact-overlay-open'); }
    return !document.body.classList.contains('contact-panel-closed');
  }

  /* ----------------------------------------------------------------- sheet */

  function focusables(root) {
    return Array.prototype.filter.call(
      root.querySelectorAll('a[href], button:not([disabled]), input:not([type=hidden]), textarea, select, summary, [tabindex]:not([tabindex="-1"])'),
      function (el) { return el.offsetParent !== null; }
    );
  }

  function openSheet(from) {
    var panel = aside();
    if (!panel) { return; }
    opener = from || null;
    document.body.classList.add('contact-sheet-open');
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-modal', 'true');
    if (!backdrop) {
      backdrop = document.createElement('div');
      backdrop.className = 'contact-sheet-backdrop';
      backdrop.addEventListener('click', function () { closeSheet(); });
    }
    document.body.appendChild(backdrop);
    var close = panel.querySelector('[data-contact-close]');
    if (close) { close.focus(); }
    sync();
  }

  function closeSheet() {
    var panel = aside();
    document.body.classList.remove('contact-sheet-open');
    if (panel) { panel.removeAttribute('role'); panel.removeAttribute('aria-modal'); }
    if (backdrop && backdrop.parentNode) { backdrop.parentNode.removeChild(backdrop); }
    var back = opener && opener.isConnected ? opener : document.querySelector('#conversation-pane [data-contact-toggle]');
    opener = null;
    if (back) { back.focus(); }
    sync();
  }

  function trapFocus(evt) {
    var panel = aside();
    if (!panel || !document.body.classList.contains('contact-sheet-open')) { return; }
    var items = focusables(panel);
    if (!items.length) { return; }
    var first = items[0];
    var last = items[items.length - 1];
    if (evt.shiftKey && (document.activeElement === first || !panel.contains(document.activeElement))) {
      evt.preventDefault();
      last.focus();
    } else if (!evt.shiftKey && (document.activeElement === last || !panel.contains(document.activeElement))) {
      evt.preventDefault();
      first.focus();
    }
  }

  /* ----------------------------------------------------------- the panel */

  function toggle(from) {
    if (isPhone()) {
      if (isOpen()) { closeSheet(); } else { openSheet(from); }
      return;
    }
    if (isNarrow()) {
      document.body.classList.toggle('contact-overlay-open');
      sync();
      return;
    }
    var closed = !document.body.classList.contains('contact-panel-closed');
    document.body.classList.toggle('contact-panel-closed', closed);
    storeClosed(closed);
    sync();
  }

  // The panel's labels are the header's (which every label change pushes): copied after each change.
  function mirrorLabels() {
    var pane = document.getElementById('conversation-pane');
    var id = pane ? pane.dataset.conversation : '';
    if (!id) { return; }
    var header = document.getElementById('conversation-header-' + id);
    var target = document.querySelector('#contact-links-' + id + ' [data-contact-labels]');
    if (!header || !target) { return; }
    var chips = header.querySelector('.label-chips');
    var html = chips ? chips.innerHTML.trim() : '<span class="muted">No labels</span>';
    if (target.innerHTML.trim() !== html) { target.innerHTML = html; }
  }

  function sync() {
    var open = isOpen();
    document.querySelectorAll('[data-contact-toggle]').forEach(function (button) {
      var value = open ? 'true' : 'false';
      if (button.getAttribute('aria-expanded') !== value) { button.setAttribute('aria-expanded', value); }
    });
    // A sheet whose conversation was replaced by another one closes with it.
    if (document.body.classList.contains('contact-sheet-open') && !aside()) {
      document.body.classList.remove('contact-sheet-open');
      if (backdrop && backdrop.parentNode) { backdrop.parentNode.removeChild(backdrop); }
    }
    mirrorLabels();
    focusEditor();
  }

  // A form just opened goes straight into the notes; one put back refused, to its reason.
  function focusEditor() {
    var editor = document.querySelector('#conversation-pane .contact-editor.is-open:not([data-focused])');
    if (!editor) { return; }
    editor.dataset.focused = '1';
    var errors = editor.querySelector('.errorlist');
    if (errors) { errors.tabIndex = -1; errors.focus(); return; }
    var area = editor.querySelector('textarea');
    if (area) { area.focus(); }
  }

  var scheduled = false;
  function syncSoon() {
    if (scheduled) { return; }
    scheduled = true;
    // Not requestAnimationFrame: a tab in the background gets no frames, and its panel must still follow.
    setTimeout(function () { scheduled = false; sync(); }, 0);
  }

  /* ------------------------------------------------------ notes and details */

  function closeEditor(editor) {
    editor.classList.remove('is-open');
    editor.replaceChildren();
    var card = editor.previousElementSibling;
    var edit = card ? card.querySelector('[data-contact-edit]') : null;
    if (edit) { edit.focus(); }
  }

  function addRow(button) {
    var rows = button.closest('form').querySelector('[data-contact-rows]');
    if (!rows) { return; }
    var all = rows.querySelectorAll('.contact-attr-row');
    var max = parseInt(rows.dataset.max, 10) || 30;
    if (!all.length || all.length >= max) { button.hidden = true; return; }
    var row = all[all.length - 1].cloneNode(true);
    row.querySelectorAll('input').forEach(function (input) { input.value = ''; });
    rows.appendChild(row);
    row.querySelector('input').focus();
    if (all.length + 1 >= max) { button.hidden = true; }
  }

  /* --------------------------------------------------------------- events */

  document.addEventListener('click', function (evt) {
    if (!evt.target.closest) { return; }
    var toggleButton = evt.target.closest('[data-contact-toggle]');
    if (toggleButton) { toggle(toggleButton); return; }
    if (evt.target.closest('[data-contact-close]')) {
      if (isPhone()) { closeSheet(); } else { toggle(null); }
      return;
    }
    var cancel = evt.target.closest('[data-contact-editor-cancel]');
    if (cancel) { closeEditor(cancel.closest('[data-contact-editor]')); return; }
    var add = evt.target.closest('[data-contact-add-row]');
    if (add) { addRow(add); }
  });

  document.addEventListener('keydown', function (evt) {
    if (!document.body.classList.contains('contact-sheet-open')) { return; }
    if (evt.key === 'Escape') {
      // A menu open inside the sheet closes first (the search box's <details>).
      var menu = evt.target.closest && evt.target.closest('details[open]');
      if (menu && aside() && aside().contains(menu)) { menu.open = false; return; }
      evt.preventDefault();
      closeSheet();
    } else if (evt.key === 'Tab') {
      trapFocus(evt);
    }
  });

  // After the settle: htmx gives a swapped element that keeps its id the old one's attributes until then
  // (the form's "is-open" arrives with it).
  document.addEventListener('htmx:afterSettle', function (evt) {
    syncSoon();
    // Found profiles come into view below the search box (the panel scrolls).
    var source = evt.detail && evt.detail.elt;
    var results = document.querySelector('#conversation-pane .contact-merge[open] .contact-merge-results');
    if (results && source && source.closest && source.closest('.contact-merge') && results.scrollIntoView) {
      results.scrollIntoView({ block: 'nearest' });
    }
  });

  document.addEventListener('toggle', function (evt) {
    var merge = evt.target;
    if (merge.matches && merge.matches('[data-contact-merge]') && merge.open) {
      var input = merge.querySelector('input[type=search]');
      if (input) { input.focus(); }
    }
  }, true);

  function start() {
    document.body.classList.toggle('contact-panel-closed', storedClosed());
    sync();
    if (window.MutationObserver) {
      new MutationObserver(syncSoon).observe(document.body, { childList: true, subtree: true });
    }
    if (phoneQuery) {
      var changed = function () {
        if (!isPhone() && document.body.classList.contains('contact-sheet-open')) { closeSheet(); }
        sync();
      };
      [phoneQuery, narrowQuery].forEach(function (query) {
        if (query.addEventListener) { query.addEventListener('change', changed); }
        else if (query.addListener) { query.addListener(changed); }
      });
    }
  }

  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
})();

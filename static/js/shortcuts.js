/*
 * Social Inbox: keyboard shortcuts (the list of them: templates/inbox/_shortcuts.html, opened with "?").
 *
 *   j / k      next / previous conversation in the list     Enter / o   open it
 *   r          reply (focus the composer)                   e           resolve
 *   i          assign to me                                 l           labels
 *   /          search                                       Esc         close, or leave the search box
 *
 * A key does nothing while staff type (a field, a menu's select, anything editable) or hold Ctrl, Cmd
 * or Alt, so the browser's and the system's own shortcuts and every typed letter stay theirs. Each
 * shortcut clicks or focuses the control a mouse would use: the same htmx requests, the same
 * answers, nothing of its own to keep in step.
 */
(function () {
  'use strict';

  var ROWS = '#conversation-list > li[data-live="row"]';

  function byId(id) { return document.getElementById(id); }

  function typing(target) {
    if (!target || !target.closest) { return false; }
    return !!target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]');
  }

  function visible(el) { return !!el && el.getClientRects().length > 0; }

  function pane() { return byId('conversation-pane'); }

  function inPane(selector) {
    var p = pane();
    var found = p ? p.querySelectorAll(selector) : [];
    for (var i = 0; i < found.length; i++) { if (visible(found[i])) { return found[i]; } }
    return null;
  }

  /* ------------------------------------------------------------------ the list */

  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll(ROWS), visible);
  }

  // The row's id, not the element: a live update replaces the row (a new assignee, a new message).
  var currentId = '';

  function currentRow() {
    var row = currentId ? byId(currentId) : null;
    return (row && row.matches(ROWS) ? row : null) || document.querySelector(ROWS + '.is-active');
  }

  function mark(row, on) {
    row.classList.toggle('is-current', on);
    if (on) { row.setAttribute('aria-current', 'true'); } else { row.removeAttribute('aria-current'); }
  }

  function keepCurrent() {
    document.querySelectorAll(ROWS + '.is-current').forEach(function (el) { if (el.id !== currentId) { mark(el, false); } });
    var row = currentId ? byId(currentId) : null;
    if (row && !row.classList.contains('is-current')) { mark(row, true); }
  }

  function setCurrent(row) {
    currentId = row ? row.id : '';
    keepCurrent();
    if (!row) { return; }
    var link = row.querySelector('.conv-link');
    // Focus follows, so a screen reader reads the row and Enter opens it like a click would.
    if (link) { link.focus({ preventScroll: true }); }
    row.scrollIntoView({ block: 'nearest' });
  }

  function move(step) {
    var list = rows();
    if (!list.length) { return; }
    var at = list.indexOf(currentRow());
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(Math.max(at + step, 0), list.length - 1);
    setCurrent(list[next]);
  }

  function openCurrent() {
    var row = currentRow();
    var link = row && row.querySelector('.conv-link');
    if (link) { link.click(); }
  }

  /* ---------------------------------------------------------------- the conversation */

  function focusReply() {
    var tab = inPane('[data-composer-tab="reply"]');
    if (tab && tab.getAttribute('aria-selected') !== 'true') { tab.click(); }
    var area = inPane('[data-composer] textarea[name="text"]:not([data-mentions])');
    if (area) { area.focus(); return true; }
    return false;
  }

  function clickIn(selector) {
    var el = inPane(selector);
    if (el) { el.click(); return true; }
    return false;
  }

  function openLabels() {
    var picker = inPane('details.label-picker');
    if (!picker) { return false; }
    picker.open = true;
    var summary = picker.querySelector('summary');
    if (summary) { summary.focus(); }
    return true;
  }

  function focusSearch() {
    var input = document.querySelector('.search input[name="q"]');
    if (!visible(input)) { return false; }
    input.focus();
    input.select();
    return true;
  }

  /* ------------------------------------------------------------------ the help */

  function helpDialog() { return byId('shortcuts-dialog'); }

  function openHelp(opener) {
    var dialog = helpDialog();
    if (!dialog || dialog.open) { return false; }
    dialog.returnTo = opener || document.activeElement;
    dialog.showModal();
    return true;
  }

  function hint() {
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'shortcut-hint';
    button.dataset.shortcutsOpen = '';
    button.setAttribute('aria-haspopup', 'dialog');
    button.title = 'Keyboard shortcuts';
    button.setAttribute('aria-label', 'Keyboard shortcuts (?)');
    var key = document.createElement('kbd');
    key.textContent = '?';
    var words = document.createElement('span');
    words.textContent = 'Keyboard shortcuts';
    button.appendChild(key);
    button.appendChild(words);
    return button;
  }

  // The quiet way in for those who do not know "?" yet: the foot of the filter column (re-rendered
  // with the filters, so added again after each swap).
  function addHint() {
    var filters = document.querySelector('.inbox-filters');
    if (!filters || !helpDialog() || filters.querySelector('.shortcut-hint')) { return; }
    filters.appendChild(hint());
  }

  /* ---------------------------------------------------------------- the keys */

  var actions = {
    j: function () { move(1); return true; },
    k: function () { move(-1); return true; },
    o: function () { openCurrent(); return true; },
    r: focusReply,
    e: function () { return clickIn('.pane-header form[action$="/resolve/"] button[type="submit"]'); },
    i: function () { return clickIn('.pane-header .assign-me button[type="submit"]'); },
    l: openLabels,
    '/': focusSearch,
    '?': function () { return openHelp(); }
  };

  document.addEventListener('keydown', function (evt) {
    if (evt.defaultPrevented || evt.isComposing || evt.ctrlKey || evt.metaKey || evt.altKey) { return; }
    var target = evt.target;
    if (evt.key === 'Escape') {
      if (target && target.matches && target.matches('.search input[name="q"]')) { target.blur(); }
      return;  // an open dialog closes itself on Escape (and its close handler returns the focus)
    }
    if (typing(target) || document.querySelector('dialog[open]')) { return; }
    if (evt.key === 'Enter') {
      // On a row's own link Enter already clicks it.
      if (target && target.closest && target.closest('a, button, summary')) { return; }
      if (currentId && byId(currentId)) { openCurrent(); evt.preventDefault(); }
      return;
    }
    var action = Object.prototype.hasOwnProperty.call(actions, evt.key) ? actions[evt.key] : null;
    if (action && action()) { evt.preventDefault(); }
  });

  document.addEventListener('click', function (evt) {
    var opener = evt.target.closest && evt.target.closest('[data-shortcuts-open]');
    if (opener) { openHelp(opener); return; }
    var dialog = helpDialog();
    // A click on the backdrop (the dialog element itself, outside its box) closes it.
    if (dialog && evt.target === dialog) { dialog.close(); }
  });

  document.addEventListener('close', function (evt) {
    var dialog = evt.target;
    if (dialog !== helpDialog()) { return; }
    var back = dialog.returnTo;
    dialog.returnTo = null;
    if (back && back.isConnected && back.focus) { back.focus(); }
  }, true);

  // Opening a conversation another way (a click) makes its row the one j and k move from.
  document.addEventListener('htmx:afterSwap', function (evt) {
    var el = evt.target;
    if (el && el.id === 'conversation-pane') {
      var open = pane() && pane().dataset.conversation;
      if (currentId && open && currentId !== 'conversation-' + open) { currentId = ''; keepCurrent(); }
    }
    addHint();
  });

  document.addEventListener('DOMContentLoaded', function () {
    addHint();
    var column = byId('list-column');
    if (column && window.MutationObserver) {
      new MutationObserver(function () { if (currentId) { keepCurrent(); } }).observe(column, { childList: true, subtree: true });
    }
  });
})();

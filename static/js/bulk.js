/*
 * The conversation list's bulk selection (templates/inbox/_bulk_bar.html).
 *
 * The selection is a set of conversation ids kept here, not in the rows: live updates replace rows
 * (static/js/inbox.js places them by id) and a replaced row comes with its checkbox unticked, so
 * after every change to the list the ticks are put back from the set, and ids whose rows left the
 * view are dropped. The bar is a form: its buttons post the ticked checkboxes (`ids`) to their
 * action's URL; the answer's rows are placed by inbox.js (`data-live-response`) and its
 * `inbox:bulk-done` event (HX-Trigger) says what was done.
 *
 * Mouse: a row's checkbox shows on hover and while selecting; shift-click ticks a range. Keyboard:
 * Space on a focused row ticks it (Shift+Space a range); typing in a field is never taken over.
 * Phone: "Select" turns select mode on; a tap on a row then ticks it instead of opening it.
 */
(function () {
  'use strict';

  var selected = new Set();
  var selecting = false;  // select mode: checkboxes shown although nothing is ticked yet
  var anchor = null;      // the id last ticked or unticked by hand, where a shift-range starts
  var shiftHeld = false;

  function byId(id) { return document.getElementById(id); }
  function form() { return byId('bulk-form'); }
  function inbox() { return byId('inbox'); }
  function maxIds() { var f = form(); return f ? parseInt(f.dataset.bulkMax, 10) || 500 : 500; }

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll('#conversation-list .conv-select'));
  }

  function toast(text) {
    if (window.socialInbox && window.socialInbox.toast) { window.socialInbox.toast(text); return; }
    var el = document.querySelector('.toast');
    if (!el) {
      el = document.createElement('div');
      el.className = 'toast';
      el.setAttribute('role', 'alert');
      document.body.appendChild(el);
    }
    el.textContent = text;
    el.hidden = false;
    setTimeout(function () { el.hidden = true; }, 6000);
  }

  /* Put the ticks back from the set, drop ids no longer shown, and show the count and the bar. */
  function sync() {
    var shown = new Set();
    boxes().forEach(function (box) {
      shown.add(box.value);
      var on = selected.has(box.value);
      if (box.checked !== on) { box.checked = on; }
    });
    selected.forEach(function (id) { if (!shown.has(id)) { selected.delete(id); } });
    var count = document.querySelector('[data-bulk-count]');
    if (count && count.textContent !== String(selected.size)) { count.textContent = String(selected.size); }
    var root = inbox();
    if (root) { root.classList.toggle('is-selecting', selecting || selected.size > 0); }
    var toggle = document.querySelector('[data-bulk-toggle]');
    if (toggle) {
      toggle.hidden = false;
      toggle.setAttribute('aria-pressed', selecting || selected.size > 0 ? 'true' : 'false');
    }
    var bar = byId('bulk-bar');
    if (bar) {
      bar.classList.toggle('is-open', selecting || selected.size > 0);
      bar.querySelectorAll('.bulk-actions button, .bulk-actions summary').forEach(function (el) {
        if (el.tagName === 'SUMMARY') { el.setAttribute('aria-disabled', selected.size ? 'false' : 'true'); }
        else { el.disabled = selected.size === 0; }
      });
    }
  }

  function set(id, on) {
    if (on) { selected.add(id); } else { selected.delete(id); }
  }

  function toggleRange(toId, on) {
    var all = boxes();
    var ids = all.map(function (box) { return box.value; });
    var from = anchor === null ? -1 : ids.indexOf(anchor);
    var to = ids.indexOf(toId);
    if (from < 0 || to < 0) { set(toId, on); return; }
    var lo = Math.min(from, to);
    var hi = Math.max(from, to);
    for (var i = lo; i <= hi; i++) { set(ids[i], on); }
  }

  function choose(box, on, range) {
    if (range) { toggleRange(box.value, on); } else { set(box.value, on); }
    anchor = box.value;
    if (selected.size > maxIds()) {
      toast('Select at most ' + maxIds() + ' conversations at a time.');
    }
    sync();
  }

  function clear(keepMode) {
    selected.clear();
    anchor = null;
    if (!keepMode) { selecting = false; }
    closeMenus();
    sync();
  }

  function closeMenus(except) {
    document.querySelectorAll('.bulk-menu[open]').forEach(function (menu) {
      if (menu !== except) { menu.open = false; }
    });
  }

  function selectAll() {
    var all = boxes();
    var limit = maxIds();
    all.slice(0, limit).forEach(function (box) { selected.add(box.value); });
    if (all.length > limit) { toast('Selected the first ' + limit + ' conversations: that is the most at a time.'); }
    selecting = true;
    sync();
  }

  /* ------------------------------------------------------------ events */

  // The click that ticks a checkbox (on it, or on its label and then the click the label passes on)
  // says whether Shift was held; the change that follows reads and resets it.
  document.addEventListener('click', function (evt) {
    var t = evt.target;
    if (t.closest && t.closest('.conv-select-box') && evt.shiftKey) { shiftHeld = true; }
  }, true);

  document.addEventListener('change', function (evt) {
    var box = evt.target;
    if (!box.matches || !box.matches('.conv-select')) { return; }
    var range = shiftHeld;
    shiftHeld = false;
    choose(box, box.checked, range);
  });

  // No text selection when shift-clicking a range.
  document.addEventListener('mousedown', function (evt) {
    if (evt.shiftKey && evt.target.closest && evt.target.closest('.conv-select-box')) { evt.preventDefault(); }
  });

  document.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!t.closest) { return; }
    if (t.closest('[data-bulk-toggle]')) {
      if (selecting || selected.size) { clear(); } else { selecting = true; sync(); }
      return;
    }
    if (t.closest('[data-bulk-all]')) { selectAll(); return; }
    if (t.closest('[data-bulk-clear]')) {
      clear();
      var toggle = document.querySelector('[data-bulk-toggle]');
      if (toggle) { toggle.focus(); }
      return;
    }
    if (!t.closest('.bulk-menu')) { closeMenus(); }
  });

  // In select mode on a touch screen a tap on a row ticks it (opening it would lose the place).
  document.addEventListener('click', function (evt) {
    if (!(selecting || selected.size) || !window.matchMedia('(hover: none)').matches) { return; }
    var link = evt.target.closest && evt.target.closest('#conversation-list .conv-link');
    if (!link || evt.ctrlKey || evt.metaKey || evt.shiftKey) { return; }
    var box = link.parentNode.querySelector('.conv-select');
    if (!box) { return; }
    evt.preventDefault();
    evt.stopPropagation();
    choose(box, !box.checked, false);
  }, true);

  document.addEventListener('keydown', function (evt) {
    var t = evt.target;
    if (!t.closest) { return; }
    if (evt.key === ' ' && t.matches('.conv-select')) { shiftHeld = evt.shiftKey; return; }
    // Space on a focused row (its link) ticks it; anywhere else Space does what it always does.
    if (evt.key === ' ' && !evt.ctrlKey && !evt.metaKey && !evt.altKey && t.matches('#conversation-list .conv-link')) {
      var box = t.parentNode.querySelector('.conv-select');
      if (!box) { return; }
      evt.preventDefault();
      choose(box, !box.checked, evt.shiftKey);
      return;
    }
    if (evt.key === 'Escape') {
      var menu = t.closest('.bulk-menu[open]');
      if (menu) { menu.open = false; menu.querySelector('summary').focus(); }
    }
  });

  // One menu of the bar open at a time; a menu does not open while nothing is selected.
  document.addEventListener('toggle', function (evt) {
    var menu = evt.target;
    if (!menu.matches || !menu.matches('.bulk-menu') || !menu.open) { return; }
    if (!selected.size) { menu.open = false; return; }
    closeMenus(menu);
  }, true);

  // The ids sent are the selection (the checkboxes say the same; this also covers a row mid-swap).
  document.addEventListener('htmx:configRequest', function (evt) {
    if (evt.detail.elt !== form()) { return; }
    evt.detail.parameters.ids = Array.from(selected);
  });

  document.addEventListener('inbox:bulk-done', function (evt) {
    var detail = evt.detail || {};
    var hadFocus = byId('bulk-bar') && byId('bulk-bar').contains(document.activeElement);
    clear();
    if (detail.message) { toast(detail.message); }
    if (hadFocus) {
      var toggle = document.querySelector('[data-bulk-toggle]');
      if (toggle) { toggle.focus(); }
    }
  });

  function watch() {
    var column = byId('list-column');
    if (!column || !window.MutationObserver) { return; }
    var queued = false;
    // Rows are swapped, added and removed synchronously; the ticks are put back before the next paint.
    new MutationObserver(function () {
      if (queued) { return; }
      queued = true;
      Promise.resolve().then(function () { queued = false; sync(); });
    }).observe(column, { childList: true, subtree: true });
    sync();
  }

  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', watch); }
  else { watch(); }
})();

/*
 * Saved replies in the composer, and the header's Labels popover.
 *
 * Typing "/" at the start of the reply (or pressing the saved replies button) opens the business's
 * saved replies, loaded once per conversation pane (templates/inbox/_saved_replies.html). Typing
 * narrows them by code and text; ↑ ↓ choose, Enter inserts, Escape closes. The text is filled in
 * by the server for this conversation and this member (the placeholders' rule lives there) and
 * inserted as plain text.
 */
(function () {
  'use strict';

  // One list per conversation pane: a new pane (another conversation, or the same one reopened) loads it again.
  var lists = new WeakMap();
  var state = null;  // the open picker: { picker, form, area, list, search, button, mode, start, end }
  var suppressInput = false;

  function pane() { return document.getElementById('conversation-pane') || document.body; }

  function loadList(url) {
    var cache = lists.get(pane());
    if (!cache) { cache = {}; lists.set(pane(), cache); }
    if (!cache[url]) {
      cache[url] = fetch(url, { credentials: 'same-origin', headers: { 'HX-Request': 'true' } })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); });
      cache[url].catch(function () { delete cache[url]; });
    }
    return cache[url];
  }

  function options() {
    return state ? Array.prototype.slice.call(state.list.querySelectorAll('[role="option"]')) : [];
  }

  function visibleOptions() {
    return options().filter(function (el) { return !el.hidden; });
  }

  function setActive(el) {
    options().forEach(function (o) { o.setAttribute('aria-selected', o === el ? 'true' : 'false'); });
    var owner = state.mode === 'slash' ? state.area : state.search;
    if (el) {
      owner.setAttribute('aria-activedescendant', el.id);
      el.scrollIntoView({ block: 'nearest' });
    } else {
      owner.removeAttribute('aria-activedescendant');
    }
  }

  function activeOption() {
    return state ? state.list.querySelector('[role="option"][aria-selected="true"]') : null;
  }

  function filter(query) {
    if (!state) { return; }
    var q = (query || '').toLowerCase().trim();
    var shown = 0;
    options().forEach(function (el) {
      var hit = !q || (el.dataset.search || '').indexOf(q) >= 0;
      el.hidden = !hit;
      if (hit) { shown += 1; }
    });
    var none = state.list.querySelector('[data-no-match]');
    if (!shown && options().length) {
      if (!none) {
        none = document.createElement('li');
        none.className = 'saved-replies-empty';
        none.setAttribute('role', 'presentation');
        none.dataset.noMatch = '1';
        none.textContent = 'No saved replies match.';
        state.list.appendChild(none);
      }
    } else if (none) {
      none.remove();
    }
    setActive(visibleOptions()[0] || null);
  }

  function currentQuery() {
    if (!state) { return ''; }
    if (state.mode === 'button') { return state.search.value; }
    var m = slashQuery(state.area);
    return m === null ? '' : m;
  }

  // "/ref" at the very start of the reply, up to the caret: the picker's filter; null when not typing a code.
  function slashQuery(area) {
    var before = area.value.slice(0, area.selectionStart);
    var m = /^\/([^\s/]*)$/.exec(before);
    return m ? m[1] : null;
  }

  function open(form, mode) {
    var picker = form.querySelector('[data-saved-replies]');
    var area = form.querySelector('textarea[name="text"]');
    if (!picker || !area) { return; }
    if (state && state.picker !== picker) { close(false); }
    var button = form.querySelector('[data-saved-replies-open]');
    if (!state) {
      state = {
        picker: picker, form: form, area: area, button: button, mode: mode,
        list: picker.querySelector('[data-saved-replies-list]'), search: picker.querySelector('[data-saved-replies-search]'),
        start: area.selectionStart, end: area.selectionEnd
      };
    }
    state.mode = mode;
    picker.hidden = false;
    picker.classList.toggle('is-slash', mode === 'slash');
    picker.querySelector('.saved-replies-head').hidden = mode === 'slash';
    if (button) { button.setAttribute('aria-expanded', 'true'); }
    area.setAttribute('aria-controls', state.list.id);
    if (!state.list.dataset.loaded) {
      state.list.innerHTML = '<li class="saved-replies-empty" role="presentation">Loading saved replies…</li>';
      var current = state;
      loadList(picker.dataset.savedReplies).then(function (html) {
        if (state !== current) { return; }
        current.list.innerHTML = html;
        current.list.dataset.loaded = '1';
        filter(currentQuery());
      }).catch(function () {
        if (state !== current) { return; }
        current.list.innerHTML = '<li class="saved-replies-empty" role="presentation">Could not load the saved replies. Try again in a moment.</li>';
      });
    } else {
      filter(currentQuery());
    }
    if (mode === 'button') { state.search.value = ''; state.search.focus(); }
  }

  function close(refocus) {
    if (!state) { return; }
    var s = state;
    state = null;
    s.picker.hidden = true;
    if (s.button) { s.button.setAttribute('aria-expanded', 'false'); }
    s.area.removeAttribute('aria-activedescendant');
    s.area.removeAttribute('aria-controls');
    if (s.search) { s.search.removeAttribute('aria-activedescendant'); }
    if (refocus) { s.area.focus(); }
  }

  function insert(s, text) {
    var area = s.area;
    var value = area.value;
    var start, end;
    if (s.mode === 'slash') {
      start = 0;
      end = area.selectionStart;  // the "/code" typed so far
    } else {
      start = Math.min(s.start, value.length);
      end = Math.min(s.end, value.length);
    }
    area.value = value.slice(0, start) + text + value.slice(end);
    var caret = start + text.length;
    area.focus();
    area.setSelectionRange(caret, caret);
    suppressInput = true;
    try { area.dispatchEvent(new Event('input', { bubbles: true })); } finally { suppressInput = false; }
  }

  function pick(option) {
    if (!state || !option) { return; }
    var s = state;
    close(false);
    fetch(option.dataset.fillUrl, { credentials: 'same-origin', headers: { 'HX-Request': 'true' } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
      .then(function (text) { insert(s, text); })
      .catch(function () { s.area.focus(); });
  }

  function move(step) {
    var items = visibleOptions();
    if (!items.length) { return; }
    var index = items.indexOf(activeOption());
    index = index < 0 ? 0 : (index + step + items.length) % items.length;
    setActive(items[index]);
  }

  // Capture phase: the composer's own Enter-to-send must not see an Enter that picks a saved reply.
  document.addEventListener('keydown', function (evt) {
    if (!state || (evt.target !== state.area && evt.target !== state.search)) { return; }
    if (evt.isComposing) { return; }
    var handled = true;
    if (evt.key === 'ArrowDown') { move(1); }
    else if (evt.key === 'ArrowUp') { move(-1); }
    else if (evt.key === 'Enter' && !evt.shiftKey) {
      var option = activeOption();
      if (option) { pick(option); } else { close(true); }
    } else if (evt.key === 'Escape') { close(true); }
    else { handled = false; }
    if (handled) { evt.preventDefault(); evt.stopPropagation(); }
  }, true);

  document.addEventListener('input', function (evt) {
    var el = evt.target;
    if (suppressInput || !el || !el.matches) { return; }
    if (state && el === state.search) { filter(el.value); return; }
    if (!el.matches('form[data-composer] textarea[name="text"]')) { return; }
    var form = el.closest('form[data-composer]');
    if (!form || !form.querySelector('[data-saved-replies]')) { return; }
    var query = slashQuery(el);
    if (query !== null) {
      if (!state || state.area !== el || state.mode !== 'slash') { open(form, 'slash'); }
      filter(query);
    } else if (state && state.area === el && state.mode === 'slash') {
      close(false);
    }
  });

  document.addEventListener('mousedown', function (evt) {
    // Keep the focus in the reply box while an option is clicked.
    if (evt.target.closest && evt.target.closest('.saved-reply-option')) { evt.preventDefault(); }
  });

  document.addEventListener('click', function (evt) {
    var target = evt.target;
    if (!target.closest) { return; }
    var opener = target.closest('[data-saved-replies-open]');
    if (opener) {
      var form = opener.closest('form[data-composer]');
      if (state && state.button === opener) { close(true); } else if (form) { open(form, 'button'); }
      return;
    }
    if (target.closest('[data-saved-replies-close]')) { close(true); return; }
    var option = target.closest('.saved-reply-option');
    if (option && state && state.list.contains(option)) { pick(option); return; }
    if (state && !state.picker.contains(target) && target !== state.area) { close(false); }
    // The header's Labels popover closes when staff click elsewhere.
    document.querySelectorAll('details.label-picker[open]').forEach(function (menu) {
      if (!menu.contains(target)) { menu.open = false; }
    });
  });

  // A reply being sent, or a composer replaced, ends the picker.
  document.addEventListener('htmx:beforeRequest', function (evt) {
    if (state && evt.target === state.form) { close(false); }
  });
  document.addEventListener('htmx:afterSwap', function () {
    if (state && !document.body.contains(state.picker)) { state = null; }
  });

  // Saving the checklist replaces the header (with its new chips): the focus goes back to its Labels button.
  document.addEventListener('htmx:afterRequest', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (!elt || !elt.matches || !elt.matches('.label-checklist') || !evt.detail.successful) { return; }
    var summary = document.querySelector('#conversation-pane .label-picker > summary');
    if (summary) { summary.focus(); }
  });

  // Escape closes the Labels popover and gives the focus back to its button.
  document.addEventListener('keydown', function (evt) {
    if (evt.key !== 'Escape' || !evt.target.closest) { return; }
    var menu = evt.target.closest('details[open].label-picker');
    if (menu) { menu.open = false; menu.querySelector('summary').focus(); }
  });
})();

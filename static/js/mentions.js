/*
 * The composer's "Reply" / "Private note" tabs and the @mention list of the note box. Wired by
 * delegation on the document, so composers swapped in by live updates work without set-up.
 *
 * Tabs: a click, or ← → Home End on a tab, switches the panel (the chosen mode is kept per
 * conversation for this tab, also across a composer swapped in by a push).
 * Mentions: typing @ in a note lists the business's members (fetched once per page from the
 * textarea's data-mentions URL); ↑ ↓ move, Enter or Tab picks, Escape closes. The server decides
 * who was mentioned from the text itself, so picking is a convenience, never a requirement.
 */
(function () {
  'use strict';

  var MODE_PREFIX = 'inbox:composer-mode:';
  var members = null;
  var loading = null;

  function store() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  /* ------------------------------------------------------------------ tabs */

  function selectTab(tab, focus) {
    var composer = tab.closest('[data-composer-modes]');
    if (!composer) { return; }
    var mode = tab.dataset.composerTab;
    composer.querySelectorAll('[data-composer-tab]').forEach(function (t) {
      var on = t === tab;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
    });
    composer.querySelectorAll('[data-composer-panel]').forEach(function (panel) {
      panel.hidden = panel.dataset.composerPanel !== mode;
    });
    composer.classList.toggle('is-note-mode', mode === 'note');
    var s = store();
    if (s) {
      try { s.setItem(MODE_PREFIX + composer.dataset.composerModes, mode); } catch (e) { /* not kept */ }
    }
    if (focus) {
      var area = composer.querySelector('[data-composer-panel="' + mode + '"] textarea');
      if (area) { area.focus(); } else { tab.focus(); }
    }
  }

  function restoreMode(composer) {
    var s = store();
    var mode = null;
    try { mode = s ? s.getItem(MODE_PREFIX + composer.dataset.composerModes) : null; } catch (e) { mode = null; }
    var current = composer.querySelector('[data-composer-tab][aria-selected="true"]');
    if (!mode || (current && current.dataset.composerTab === mode)) { return; }
    // The server chose note mode itself (a refused note comes back in it): keep that.
    if (composer.classList.contains('is-note-mode')) { return; }
    var tab = composer.querySelector('[data-composer-tab="' + mode + '"]');
    if (tab) { selectTab(tab, false); }
  }

  document.addEventListener('click', function (evt) {
    var tab = evt.target.closest && evt.target.closest('[data-composer-tab]');
    if (tab) { selectTab(tab, true); }
  });

  document.addEventListener('keydown', function (evt) {
    var tab = evt.target.closest && evt.target.closest('[data-composer-tab]');
    if (!tab) { return; }
    var tabs = Array.prototype.slice.call(tab.closest('[role="tablist"]').querySelectorAll('[data-composer-tab]'));
    var i = tabs.indexOf(tab);
    var next = null;
    if (evt.key === 'ArrowRight') { next = tabs[(i + 1) % tabs.length]; }
    else if (evt.key === 'ArrowLeft') { next = tabs[(i - 1 + tabs.length) % tabs.length]; }
    else if (evt.key === 'Home') { next = tabs[0]; }
    else if (evt.key === 'End') { next = tabs[tabs.length - 1]; }
    if (next) { evt.preventDefault(); selectTab(next, false); next.focus(); }
  });

  /* -------------------------------------------------------------- mentions */

  function loadMembers(url) {
    if (members) { return Promise.resolve(members); }
    if (!loading) {
      loading = fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : { members: [] }; })
        .then(function (data) { members = data.members || []; return members; })
        .catch(function () { loading = null; return []; });
    }
    return loading;
  }

  // The "@word" right before the caret, if the caret is in one.
  function queryAt(area) {
    var upto = area.value.slice(0, area.selectionStart);
    var match = /(^|[^\w@])@([^\s@]{0,30})$/.exec(upto);
    if (!match) { return null; }
    return { start: upto.length - match[2].length - 1, text: match[2].toLowerCase() };
  }

  function listFor(area) {
    return document.getElementById(area.getAttribute('aria-controls'));
  }

  function close(area) {
    var list = listFor(area);
    if (list) { list.hidden = true; list.replaceChildren(); }
    area.setAttribute('aria-expanded', 'false');
    area.removeAttribute('aria-activedescendant');
  }

  function options(list) {
    return Array.prototype.slice.call(list.querySelectorAll('[role="option"]'));
  }

  function highlight(area, index) {
    var list = listFor(area);
    var opts = options(list);
    if (!opts.length) { return; }
    index = (index + opts.length) % opts.length;
    opts.forEach(function (o, i) { o.setAttribute('aria-selected', i === index ? 'true' : 'false'); });
    area.setAttribute('aria-activedescendant', opts[index].id);
    opts[index].scrollIntoView({ block: 'nearest' });
  }

  function pick(area, option) {
    var q = queryAt(area);
    if (!q) { close(area); return; }
    var name = option.dataset.name;
    var before = area.value.slice(0, q.start);
    var after = area.value.slice(area.selectionStart);
    var insert = '@' + name + ' ';
    area.value = before + insert + after.replace(/^\s+/, '');
    var caret = (before + insert).length;
    area.setSelectionRange(caret, caret);
    area.dispatchEvent(new Event('input', { bubbles: true }));  // drafts and autogrow follow
    close(area);
    area.focus();
  }

  function show(area) {
    var q = queryAt(area);
    var list = listFor(area);
    if (!q || !list) { close(area); return; }
    loadMembers(area.dataset.mentions).then(function (all) {
      var again = queryAt(area);
      if (!again || again.start !== q.start) { return; }
      var found = all.filter(function (m) {
        return !again.text || m.name.toLowerCase().indexOf(again.text) === 0
          || m.handle.toLowerCase().indexOf(again.text) === 0
          || m.name.toLowerCase().indexOf(' ' + again.text) >= 0;
      }).slice(0, 8);
      if (!found.length) { close(area); return; }
      list.replaceChildren();
      found.forEach(function (m, i) {
        var li = document.createElement('li');
        li.id = list.id + '-' + m.id;
        li.setAttribute('role', 'option');
        li.dataset.name = m.name;
        li.className = 'mention-option';
        var name = document.createElement('strong');
        name.textContent = m.name;
        var handle = document.createElement('span');
        handle.className = 'muted';
        handle.textContent = ' ' + m.handle;
        li.appendChild(name);
        li.appendChild(handle);
        li.setAttribute('aria-selected', i === 0 ? 'true' : 'false');
        list.appendChild(li);
      });
      list.hidden = false;
      area.setAttribute('aria-expanded', 'true');
      highlight(area, 0);
    });
  }

  document.addEventListener('input', function (evt) {
    var area = evt.target;
    if (area.matches && area.matches('textarea[data-mentions]')) { show(area); }
  });

  // Capture phase: while the list is open, the keys belong to it (Enter must not send the note).
  document.addEventListener('keydown', function (evt) {
    var area = evt.target;
    if (!area.matches || !area.matches('textarea[data-mentions]') || area.getAttribute('aria-expanded') !== 'true') {
      return;
    }
    var list = listFor(area);
    var opts = options(list);
    var current = opts.findIndex(function (o) { return o.getAttribute('aria-selected') === 'true'; });
    if (evt.key === 'ArrowDown' || evt.key === 'ArrowUp') {
      highlight(area, current + (evt.key === 'ArrowDown' ? 1 : -1));
    } else if ((evt.key === 'Enter' || evt.key === 'Tab') && !evt.shiftKey && current >= 0) {
      pick(area, opts[current]);
    } else if (evt.key === 'Escape') {
      close(area);
    } else {
      return;
    }
    evt.preventDefault();
    evt.stopPropagation();
  }, true);

  document.addEventListener('mousedown', function (evt) {
    var option = evt.target.closest && evt.target.closest('.mention-suggestions [role="option"]');
    if (!option) { return; }
    evt.preventDefault();  // keep the focus in the textarea
    var area = document.querySelector('textarea[aria-controls="' + option.parentNode.id + '"]');
    if (area) { pick(area, option); }
  });

  document.addEventListener('focusout', function (evt) {
    var area = evt.target;
    if (area.matches && area.matches('textarea[data-mentions]')) {
      setTimeout(function () { if (document.activeElement !== area) { close(area); } }, 150);
    }
  });

  /* ------------------------------------------------------- swapped composers */

  function restoreAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches('[data-composer-modes]')) { restoreMode(scope); }
    scope.querySelectorAll('[data-composer-modes]').forEach(restoreMode);
  }

  document.addEventListener('DOMContentLoaded', function () {
    restoreAll(document);
    // A pane opened by htmx, or a composer a push replaced, comes back in the mode chosen last.
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) {
          if (node.nodeType === 1 && (node.matches('[data-composer-modes]') || node.querySelector('[data-composer-modes]'))) {
            restoreAll(node);
          }
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  });
})();

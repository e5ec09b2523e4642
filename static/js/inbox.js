/*
 * Social Inbox: live placement of server-rendered fragments, catch-up after a reconnect, and the
 * small comforts of the composer. No inline scripts anywhere (CSP): everything is wired here.
 *
 * The server pushes (over the socket) and answers actions (over htmx) with the same fragments:
 * rows (data-live="row"), messages ("message"), the conversation header ("header"), the composer
 * ("composer"), counters ("counter") and a "resync" hint. applyLive() places each by its id. A page
 * that does not show a message's conversation has no "messages-<id>" container, so the message is
 * dropped there and only the list changes.
 */
(function () {
  'use strict';

  var baseTitle = null;
  var socketOpenedBefore = false;

  function byId(id) { return document.getElementById(id); }

  function openConversationId() {
    var pane = byId('conversation-pane');
    return pane && pane.dataset.conversation ? pane.dataset.conversation : '';
  }

  /* ---------------------------------------------------------------- times */

  var timeFormats = {
    time: new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' }),
    day: new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' }),
    dayYear: new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' }),
    weekday: new Intl.DateTimeFormat(undefined, { weekday: 'short' }),
    full: new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
  };

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function formatTime(el) {
    var when = new Date(el.getAttribute('datetime'));
    if (isNaN(when)) { return; }
    var now = new Date();
    var text;
    if (el.dataset.format === 'short') {
      if (sameDay(when, now)) { text = timeFormats.time.format(when); }
      else if (now - when < 6 * 864e5) { text = timeFormats.weekday.format(when); }
      else if (when.getFullYear() === now.getFullYear()) { text = timeFormats.day.format(when); }
      else { text = timeFormats.dayYear.format(when); }
    } else {
      text = sameDay(when, now) ? timeFormats.time.format(when)
        : (when.getFullYear() === now.getFullYear() ? timeFormats.day.format(when) : timeFormats.dayYear.format(when))
          + ', ' + timeFormats.time.format(when);
    }
    el.textContent = text;
    el.title = timeFormats.full.format(when);
  }

  function formatTimes(root) {
    (root || document).querySelectorAll('time[data-format]').forEach(formatTime);
  }

  /* --------------------------------------------------------------- scrolling */

  function scroller(el) { return el ? el.closest('[data-scroll]') : null; }

  function nearBottom(box) {
    return !box || box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function scrollToBottom(box) {
    if (box) { box.scrollTop = box.scrollHeight; box.stick = true; }
    var pill = document.querySelector('[data-jump]');
    if (pill) { pill.hidden = true; }
  }

  // A conversation stays pinned to its newest message while staff are there, also when photos
  // finish loading or older messages are added above; scrolling up releases it.
  function watchScroller(box) {
    if (!box || box.dataset.watched) { return; }
    box.dataset.watched = '1';
    box.stick = true;
    box.addEventListener('scroll', function () {
      box.stick = nearBottom(box);
      if (box.stick) { var pill = document.querySelector('[data-jump]'); if (pill) { pill.hidden = true; } }
    }, { passive: true });
    var inner = box.querySelector('.messages');
    if (inner && window.ResizeObserver) {
      new ResizeObserver(function () { if (box.stick) { box.scrollTop = box.scrollHeight; } }).observe(inner);
    }
  }

  /* ------------------------------------------------------------- placement */

  // The server's markup of each live element as it arrived (before times were localised), so a
  // fragment that did not change (a catch-up, a repeated push) leaves the page untouched: no
  // flicker, no reloaded image, no interrupted voice message.
  var serverHtml = new WeakMap();

  function remember(root) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.dataset && root.dataset.live) { serverHtml.set(root, root.outerHTML); }
    root.querySelectorAll('[data-live]').forEach(function (el) { serverHtml.set(el, el.outerHTML); });
  }

  function settle(el) {
    remember(el);
    if (window.htmx) { window.htmx.process(el); }
    formatTimes(el);
    initComposer(el);
  }

  function swapIn(existing, el) {
    if (serverHtml.get(existing) === el.outerHTML) { return; }
    existing.replaceWith(el);
    settle(el);
  }

  function rowMatches(results, row) {
    var f = results.dataset;
    var r = row.dataset;
    if (f.status && r.status !== f.status) { return false; }
    if (f.unread === '1' && r.unread === '0') { return false; }
    if (f.priority === 'any' && r.priority === 'none') { return false; }
    if (f.priority && f.priority !== 'any' && r.priority !== f.priority) { return false; }
    if (f.account && r.account !== f.account) { return false; }
    return true;
  }

  function markActiveRow() {
    var active = openConversationId();
    document.querySelectorAll('#conversation-list > [data-live="row"]').forEach(function (row) {
      var on = active && row.id === 'conversation-' + active;
      row.classList.toggle('is-active', Boolean(on));
      var link = row.querySelector('a');
      if (link) { if (on) { link.setAttribute('aria-current', 'page'); } else { link.removeAttribute('aria-current'); } }
    });
  }

  function placeRow(row) {
    var existing = byId(row.id);
    var results = byId('conversation-results');
    var list = byId('conversation-list');
    if (!results || !list) { return; }
    var isOpen = row.id === 'conversation-' + openConversationId();
    if (!rowMatches(results, row) && !(isOpen && existing)) {
      if (existing) { existing.remove(); }
      return;
    }
    // Search results and rows whose place did not change are updated where they are.
    if (existing && (results.dataset.q || existing.dataset.sort === row.dataset.sort)) {
      swapIn(existing, row);
      markActiveRow();
      return;
    }
    if (results.dataset.q) { return; }
    if (existing) { existing.remove(); }
    var before = null;
    var rows = list.querySelectorAll(':scope > [data-live="row"]');
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].dataset.sort < row.dataset.sort) { before = rows[i]; break; }
    }
    if (!before && list.querySelector(':scope > [data-load-more]')) {
      return; // older than every loaded row: it comes with the next page when staff scroll there
    }
    list.insertBefore(row, before);
    settle(row);
    var empty = results.querySelector('.empty');
    if (empty) { empty.remove(); }
    markActiveRow();
  }

  function placeMessage(msg) {
    var existing = byId(msg.id);
    if (existing) {
      var box = scroller(existing);
      var stick = box ? box.stick !== false : false;
      swapIn(existing, msg);
      if (stick) { scrollToBottom(box); }
      return;
    }
    var container = byId('messages-' + msg.dataset.conversation);
    if (!container) { return; }
    var items = container.querySelectorAll(':scope > [data-live="message"]');
    var after = null;
    for (var i = items.length - 1; i >= 0; i--) {
      if (items[i].dataset.sort <= msg.dataset.sort) { after = items[i]; break; }
    }
    if (!after && container.querySelector(':scope > [data-older]')) {
      return; // older than what is loaded: it arrives with the older page
    }
    var box2 = scroller(container);
    var stick2 = (box2 && box2.stick !== false) || msg.classList.contains('msg-outbound');
    var start = container.querySelector(':scope > .history-start');
    var anchor = after ? after.nextSibling : (start ? start.nextSibling : container.firstChild);
    container.insertBefore(msg, anchor);
    settle(msg);
    if (start) { start.textContent = 'Start of the conversation'; }
    if (stick2) { scrollToBottom(box2); }
    else { var pill = document.querySelector('[data-jump]'); if (pill) { pill.hidden = false; } }
    if (!msg.classList.contains('msg-outbound')) { markOpenConversationRead(); }
  }

  /* The customer wrote into the conversation staff are looking at: it is read, for everyone. */
  var readTimer = null;
  var readPending = false;
  function markOpenConversationRead() {
    var pane = byId('conversation-pane');
    if (!pane || !pane.dataset.readUrl) { return; }
    if (document.hidden) { readPending = true; return; }
    readPending = false;
    // At most one request per 300 ms, also while messages keep coming (a debounce would wait for
    // a pause, and the badge would count up meanwhile).
    if (readTimer) { return; }
    readTimer = setTimeout(function () {
      readTimer = null;
      fetch(pane.dataset.readUrl, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'X-CSRFToken': csrfToken(), 'HX-Request': 'true' }
      }).then(function (r) { return r.ok ? r.text() : ''; })
        .then(function (html) { if (html) { applyLive(html); } })
        .catch(function () { /* the next open marks it read */ });
    }, 300);
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || ''; }
    catch (e) { return ''; }
  }

  function placeComposer(el, force) {
    var existing = byId(el.id);
    if (!existing) { return; }
    // Keep what staff are typing unless the way of replying changed (window opened or closed).
    if (!force && existing.dataset.state === el.dataset.state) { return; }
    swapIn(existing, el);
  }

  function replaceById(el) {
    var existing = el.id ? byId(el.id) : null;
    if (existing) { swapIn(existing, el); }
  }

  function applyLive(html, opts) {
    opts = opts || {};
    var tpl = document.createElement('template');
    tpl.innerHTML = html;
    Array.prototype.slice.call(tpl.content.children).forEach(function (el) {
      switch (el.dataset.live) {
        case 'row': placeRow(el); break;
        case 'message': placeMessage(el); break;
        case 'composer': placeComposer(el, opts.force); break;
        case 'resync': resync(el); break;
        default: replaceById(el);
      }
    });
    updateTitle();
  }

  function updateTitle() {
    var total = byId('unread-total');
    if (!total) { return; }
    if (baseTitle === null) { baseTitle = document.title.replace(/^\(\d+\)\s*/, ''); }
    var label = total.hidden ? '' : (total.dataset.count || '');
    document.title = (label && label !== '0' ? '(' + label + ') ' : '') + baseTitle;
  }

  /* ---------------------------------------------------------------- catch-up */

  function currentMessages() {
    return document.querySelector('#conversation-pane .messages[data-conversation]');
  }

  function lastMessageId(container) {
    var last = 0;
    container.querySelectorAll(':scope > [data-live="message"]').forEach(function (el) {
      var id = parseInt(el.id.replace('message-', ''), 10);
      if (id > last) { last = id; }
    });
    return last;
  }

  function catchUpMessages() {
    var container = currentMessages();
    if (!container) { return; }
    var url = container.dataset.messagesUrl + '?after=' + lastMessageId(container);
    fetch(url, { credentials: 'same-origin', headers: { 'HX-Request': 'true' } })
      .then(function (r) { return r.ok ? r.text() : ''; })
      .then(function (html) { if (html) { applyLive(html); } })
      .catch(function () { /* the next reconnect tries again */ });
  }

  function refreshList() {
    var results = byId('conversation-results');
    var inbox = byId('inbox');
    if (!results || !inbox || !window.htmx) { return; }
    var d = results.dataset;
    var params = new URLSearchParams();
    if (d.status && d.status !== 'open') { params.set('status', d.status); }
    if (d.unread) { params.set('unread', '1'); }
    if (d.priority) { params.set('priority', d.priority); }
    if (d.account) { params.set('page', d.account); }
    if (d.q) { params.set('q', d.q); }
    window.htmx.ajax('GET', inbox.dataset.listUrl + '?' + params.toString(), { target: '#conversation-results', swap: 'outerHTML' });
  }

  function reloadPane() {
    var id = openConversationId();
    var container = currentMessages();
    if (!id || !container || !window.htmx) { return; }
    window.htmx.ajax('GET', container.dataset.messagesUrl.replace(/messages\/$/, ''), { target: '#conversation-pane', swap: 'outerHTML' });
  }

  function resync(el) {
    var ids = (el.dataset.conversations || '').split(',');
    if (ids.indexOf(openConversationId()) >= 0) { reloadPane(); }
  }

  /* ---------------------------------------------------------------- status */

  function liveStatus(text) {
    var el = document.querySelector('.live-status');
    if (!el) {
      el = document.createElement('div');
      el.className = 'live-status';
      el.setAttribute('role', 'status');
      document.body.appendChild(el);
    }
    el.textContent = text || '';
    el.hidden = !text;
  }

  var toastTimer = null;
  function toast(text) {
    var el = document.querySelector('.toast');
    if (!el) {
      el = document.createElement('div');
      el.className = 'toast';
      el.setAttribute('role', 'alert');
      document.body.appendChild(el);
    }
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, 6000);
  }

  /* --------------------------------------------------------------- composer */

  function autogrow(area) {
    area.style.height = 'auto';
    area.style.height = Math.min(area.scrollHeight + 2, 220) + 'px';
  }

  function initComposer(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var forms = scope.matches && scope.matches('[data-composer]') ? [scope] : scope.querySelectorAll('[data-composer]');
    Array.prototype.forEach.call(forms, function (form) {
      if (form.dataset.ready) { return; }
      form.dataset.ready = '1';
      var area = form.querySelector('textarea');
      var file = form.querySelector('[data-file]');
      var fileName = form.querySelector('[data-file-name]');
      if (area) {
        area.addEventListener('input', function () { autogrow(area); });
        area.addEventListener('keydown', function (evt) {
          if (evt.key === 'Enter' && !evt.shiftKey && !evt.isComposing) {
            evt.preventDefault();
            if (area.value.trim() || (file && file.files.length)) { form.requestSubmit(); }
          }
        });
        autogrow(area);
      }
      if (file && fileName) {
        file.addEventListener('change', function () {
          fileName.textContent = file.files.length ? 'Attached: ' + file.files[0].name : '';
          fileName.hidden = !file.files.length;
        });
      }
    });
  }

  function resetComposer(form) {
    if (!document.body.contains(form)) { return; }
    form.reset();
    var area = form.querySelector('textarea');
    var fileName = form.querySelector('[data-file-name]');
    var error = form.querySelector('.composer-error');
    if (fileName) { fileName.hidden = true; fileName.textContent = ''; }
    if (error) { error.hidden = true; error.textContent = ''; }
    if (area) { autogrow(area); area.focus(); }
  }

  /* ------------------------------------------------------------------ pane */

  function initPane() {
    var pane = byId('conversation-pane');
    document.body.classList.toggle('has-conversation', Boolean(pane && pane.dataset.conversation));
    var container = currentMessages();
    if (container) { watchScroller(scroller(container)); scrollToBottom(scroller(container)); }
    markActiveRow();
    initComposer(document);
  }

  /* ---------------------------------------------------------------- events */

  document.addEventListener('DOMContentLoaded', function () {
    // In the inbox, notices float over the conversation: they step aside after a few seconds.
    if (document.body.classList.contains('inbox-page')) {
      document.querySelectorAll('.flash').forEach(function (el) {
        setTimeout(function () { el.hidden = true; }, 5000);
        el.addEventListener('click', function () { el.hidden = true; });
      });
    }
    remember(document.body);
    formatTimes(document);
    initPane();
    updateTitle();
    setInterval(function () { formatTimes(document); }, 60000);
  });

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && readPending) { markOpenConversationRead(); }
  });

  document.addEventListener('click', function (evt) {
    var jump = evt.target.closest && evt.target.closest('[data-jump]');
    if (jump) {
      var container = currentMessages();
      if (container) { scrollToBottom(scroller(container)); }
    }
  });

  document.body && init();
  if (!document.body) { document.addEventListener('DOMContentLoaded', init); }

  function init() {
    var body = document.body;

    body.addEventListener('htmx:wsOpen', function () {
      body.dataset.ws = 'open';
      liveStatus('');
      // What was pushed while the socket was closed (or before it first opened) is fetched now.
      if (socketOpenedBefore) { refreshList(); }
      catchUpMessages();
      socketOpenedBefore = true;
    });

    body.addEventListener('htmx:wsClose', function () {
      body.dataset.ws = 'closed';
      liveStatus('Live updates paused. Reconnecting…');
    });

    body.addEventListener('htmx:wsBeforeMessage', function (evt) {
      evt.preventDefault();
      applyLive(evt.detail.message);
    });

    body.addEventListener('htmx:beforeSwap', function (evt) {
      var target = evt.detail.target;
      if (target && target.matches && target.matches('[data-older]')) {
        // Older messages go above what staff are reading: keep their place.
        var box = scroller(target);
        if (box && !box.stick) {
          var fromBottom = box.scrollHeight - box.scrollTop;
          setTimeout(function () { box.scrollTop = box.scrollHeight - fromBottom; }, 0);
        }
      }
    });

    body.addEventListener('htmx:afterSwap', function (evt) {
      var el = evt.target;
      remember(el);
      if (el.id === 'conversation-pane') {
        initPane();
        formatTimes(el);
      } else if (el.closest && el.closest('#list-column')) {
        formatTimes(el);
        markActiveRow();
        // A page of rows may repeat one that live updates already moved to the top.
        var seen = {};
        document.querySelectorAll('#conversation-list > [data-live="row"]').forEach(function (row) {
          if (seen[row.id]) { row.remove(); } else { seen[row.id] = true; }
        });
      } else {
        formatTimes(el);
      }
    });

    body.addEventListener('htmx:afterRequest', function (evt) {
      var elt = evt.detail.elt;
      if (!elt || !elt.matches || !elt.matches('[data-live-response]')) { return; }
      var xhr = evt.detail.xhr;
      if (evt.detail.successful) {
        applyLive(xhr.responseText);
        if (elt.matches('[data-composer]')) { resetComposer(elt); }
      } else if (xhr && xhr.status === 422) {
        applyLive(xhr.responseText, { force: true });
      } else if (xhr && xhr.status >= 400 && xhr.status < 500) {
        toast(xhr.responseText && xhr.responseText.length < 300 ? xhr.responseText : 'That did not work. Reload the page and try again.');
      }
    });

    body.addEventListener('htmx:sendError', function () {
      toast('Could not reach the server. Check your connection and try again.');
    });

    body.addEventListener('htmx:responseError', function (evt) {
      var elt = evt.detail.elt;
      if (elt && elt.matches && elt.matches('[data-live-response]')) { return; }
      toast('Something went wrong. Reload the page and try again.');
    });
  }

  window.socialInbox = { applyLive: applyLive, catchUpMessages: catchUpMessages, refreshList: refreshList };
})();

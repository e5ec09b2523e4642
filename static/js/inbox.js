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

  // Times follow the member's own setting (profile: <body data-time-zone data-clock>); blank is the
  // browser's zone and its locale's clock. "numeric" hours: 9:05, never 09:05.
  function clockOptions(extra) {
    var body = document.body;
    var opts = {};
    var zone = body ? body.dataset.timeZone : '';
    var clock = body ? body.dataset.clock : '';
    if (zone) { opts.timeZone = zone; }
    if (clock === '12' || clock === '24') { opts.hour12 = clock === '12'; }
    Object.keys(extra).forEach(function (key) { opts[key] = extra[key]; });
    return opts;
  }

  function makeFormat(extra) {
    try { return new Intl.DateTimeFormat(undefined, clockOptions(extra)); }
    catch (e) { return new Intl.DateTimeFormat(undefined, extra); }  // a zone this browser does not know
  }

  var timeFormats = null;
  function formats() {
    if (!timeFormats) {
      timeFormats = {
        time: makeFormat({ hour: 'numeric', minute: '2-digit' }),
        day: makeFormat({ day: 'numeric', month: 'short' }),
        dayYear: makeFormat({ day: 'numeric', month: 'short', year: 'numeric' }),
        weekday: makeFormat({ weekday: 'short' }),
        full: makeFormat({ dateStyle: 'medium', timeStyle: 'short' }),
        key: makeFormat({ year: 'numeric', month: '2-digit', day: '2-digit' })
      };
    }
    return timeFormats;
  }

  // The calendar day of a moment in the member's zone, as "YYYY-MM-DD" (also for thread.js's separators).
  function dayKey(when) {
    var parts = {};
    formats().key.formatToParts(when).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + '-' + parts.month + '-' + parts.day;
  }

  // Some locales pad the hour of a 24-hour clock even when asked for "numeric" (en-US: "09:05").
  function clockTime(when) {
    return formats().time.formatToParts(when).map(function (p) {
      return p.type === 'hour' ? String(parseInt(p.value, 10)) : p.value;
    }).join('');
  }

  function sameDay(a, b) { return dayKey(a) === dayKey(b); }

  function sameYear(a, b) { return dayKey(a).slice(0, 4) === dayKey(b).slice(0, 4); }

  function formatTime(el) {
    var when = new Date(el.getAttribute('datetime'));
    if (isNaN(when)) { return; }
    var now = new Date();
    var text;
    var f = formats();
    if (el.dataset.format === 'short') {
      if (sameDay(when, now)) { text = clockTime(when); }
      else if (now - when < 6 * 864e5) { text = f.weekday.format(when); }
      else if (sameYear(when, now)) { text = f.day.format(when); }
      else { text = f.dayYear.format(when); }
    } else {
      text = sameDay(when, now) ? clockTime(when)
        : (sameYear(when, now) ? f.day.format(when) : f.dayYear.format(when))
          + ', ' + clockTime(when);
    }
    el.textContent = text;
    el.title = f.full.format(when);
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

  // Fragments rendered for another request carry another CSRF token: not a change worth a swap.
  function withoutTokens(html) {
    return (html || '').replace(/<input[^>]*name="csrfmiddlewaretoken"[^>]*>/g, '');
  }

  // A header whose menu (snooze, labels, assignee) is open, or whose field has the focus, is being
  // used: swapping it would close the menu under the pointer and drop what was typed. Its newest
  // fragment waits until the menu closes or the focus leaves.
  var waiting = new WeakMap();
  // True while the answer to this page's own action is placed: that header is the one just used, and
  // its menu is meant to close with the new markup.
  var placingOwnAnswer = false;

  function inUse(existing) {
    if (!existing.dataset || existing.dataset.live !== 'header') { return false; }
    var active = document.activeElement;
    return !!existing.querySelector('details[open]') ||
      (existing.contains(active) && active.matches('input, textarea, select'));
  }

  function swapWhenFree(existing, el) {
    var first = !waiting.has(existing);
    waiting.set(existing, el);  // the newest fragment wins
    if (!first) { return; }
    function retry() {
      if (!existing.isConnected) { stop(); return; }
      if (inUse(existing)) { return; }
      stop();
      var latest = waiting.get(existing);
      waiting.delete(existing);
      swapIn(existing, latest);
    }
    function soon() { setTimeout(retry, 0); }
    function stop() {
      existing.removeEventListener('toggle', retry, true);
      existing.removeEventListener('focusout', soon, true);
    }
    // "toggle" does not bubble; a listener in the capture phase still hears every menu inside.
    existing.addEventListener('toggle', retry, true);
    existing.addEventListener('focusout', soon, true);
  }

  function swapIn(existing, el) {
    if (withoutTokens(serverHtml.get(existing)) === withoutTokens(el.outerHTML)) { return; }
    if (!placingOwnAnswer && inUse(existing)) { swapWhenFree(existing, el); return; }
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
    // Rows are rendered once for the whole business: "Mine" is decided here, by the page's member.
    if (f.assignee === 'me' && r.assignee !== currentUserId()) { return false; }
    if (f.assignee === 'none' && r.assignee) { return false; }
    if (f.team && r.team !== f.team) { return false; }
    if (f.label && (' ' + (r.labels || '') + ' ').indexOf(' ' + f.label + ' ') < 0) { return false; }
    return true;
  }

  function currentUserId() {
    var inbox = byId('inbox');
    return inbox ? (inbox.dataset.user || '') : '';
  }

  // The pushed counters carry every member's "Mine" count ("user:count …"); show this page's own.
  function updateMineCount() {
    var el = byId('assigned-mine-count');
    if (!el) { return; }
    var me = currentUserId();
    var n = 0;
    (el.dataset.byUser || '').split(' ').forEach(function (pair) {
      var parts = pair.split(':');
      if (parts[0] && parts[0] === me) { n = parseInt(parts[1], 10) || 0; }
    });
    el.textContent = n >= 100 ? '99+' : String(n);
    el.hidden = n === 0;
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
    if (after && after === items[items.length - 1] && container.querySelector(':scope > [data-newer]')) {
      // Opened at a search match: newer than what is loaded, it arrives with the newer page.
      var waitingPill = document.querySelector('[data-jump]');
      if (waitingPill) { waitingPill.hidden = false; }
      return;
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
    placingOwnAnswer = !!opts.own;
    try {
      Array.prototype.slice.call(tpl.content.children).forEach(function (el) {
        switch (el.dataset.live) {
          case 'row': placeRow(el); break;
          case 'message': placeMessage(el); break;
          case 'composer': placeComposer(el, opts.force); break;
          case 'resync': resync(el); break;
          default: replaceById(el);
        }
      });
    } finally {
      placingOwnAnswer = false;
    }
    updateMineCount();
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
    // Opened at a search match: what came after it arrives, current, with the newer pages.
    if (container.querySelector(':scope > [data-newer]')) { return; }
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
    if (d.assignee) { params.set('assignee', d.assignee); }
    if (d.team) { params.set('team', d.team); }
    if (d.label) { params.set('label', d.label); }
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
    // Too many rows changed for one push: the list fetches what it shows.
    if (el.dataset.list) { refreshList(); }
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

  /* ------------------------------------------------------------ access ended */

  // The server ends the socket on purpose when this person's access ends (removed from the
  // business, signed out, password changed, another business chosen in another tab): one JSON frame
  // (pushes are always HTML), then a close with an application code. The page says so and stays
  // quiet: the ws extension reconnects only after abnormal closes (1006, 1011-1013), not these.
  var ACCESS_CLOSE_CODES = {
    4401: { message: 'You were signed out.', action: 'Sign in' },
    4403: { message: 'You no longer have access to this business.', action: 'Reload' },
    4409: { message: 'You switched to another business in another tab.', action: 'Reload' }
  };
  var accessEnded = false;

  function accessFrame(message) {
    if (typeof message !== 'string' || message.charAt(0) !== '{') { return false; }
    var data;
    try { data = JSON.parse(message); } catch (e) { return false; }
    if (!data || data.type !== 'access.ended') { return false; }
    endAccess(data);
    return true;
  }

  // A close with one of these codes whose frame never arrived still ends the page's access.
  function accessClosed(evt) {
    var code = evt.detail && evt.detail.event ? evt.detail.event.code : 0;
    if (!accessEnded && ACCESS_CLOSE_CODES[code]) { endAccess(ACCESS_CLOSE_CODES[code]); }
    return accessEnded;
  }

  function endAccess(info) {
    accessEnded = true;
    document.body.dataset.ws = 'ended';
    liveStatus('');
    var inbox = byId('inbox');
    if (inbox) { inbox.inert = true; inbox.classList.add('is-access-ended'); }
    var banner = document.querySelector('.access-ended');
    if (!banner) {
      banner = document.createElement('div');
      banner.className = 'access-ended';
      banner.setAttribute('role', 'alert');
      document.body.insertBefore(banner, byId('main'));
    }
    var text = document.createElement('p');
    text.textContent = info.message || 'Live updates ended.';
    // Reloading the page asks to sign in, or shows what this person may see now.
    var link = document.createElement('a');
    link.className = 'button';
    link.href = window.location.href;
    link.textContent = info.action || 'Reload';
    banner.replaceChildren(text, link);
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
      watchDraft(form);
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

  /* ----------------------------------------------------------------- drafts */

  // What staff type is kept per conversation in this tab (sessionStorage) until the server has
  // accepted the reply: a failed send, an ended session, a sign-in or a reload never loses it.
  var DRAFT_PREFIX = 'inbox:draft:';

  function draftStore() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function saveDraft(area) {
    var store = draftStore();
    if (!store || !area.dataset.draft) { return; }
    try {
      if (area.value.trim()) { store.setItem(DRAFT_PREFIX + area.dataset.draft, area.value); }
      else { store.removeItem(DRAFT_PREFIX + area.dataset.draft); }
    } catch (e) { /* storage full or refused: the text still stays in the composer */ }
  }

  function forgetDraft(form) {
    var area = form.querySelector('textarea[data-draft]');
    var store = draftStore();
    if (!area || !store) { return; }
    try { store.removeItem(DRAFT_PREFIX + area.dataset.draft); } catch (e) { /* nothing stored */ }
  }

  function restoreDraft(area) {
    var store = draftStore();
    // Text the server put back (a refused reply) wins over the stored copy.
    if (!store || !area.dataset.draft || area.value) { return; }
    var saved = null;
    try { saved = store.getItem(DRAFT_PREFIX + area.dataset.draft); } catch (e) { saved = null; }
    if (saved) { area.value = saved; autogrow(area); }
  }

  // Signing out on purpose ends this tab's drafts: the next person at this browser must not find them.
  function forgetAllDrafts() {
    var store = draftStore();
    if (!store) { return; }
    try {
      Object.keys(store).forEach(function (key) {
        if (key.indexOf(DRAFT_PREFIX) === 0) { store.removeItem(key); }
      });
    } catch (e) { /* nothing stored */ }
  }

  document.addEventListener('submit', function (evt) {
    if (evt.target.matches && evt.target.matches('form.logout')) { forgetAllDrafts(); }
  });

  function watchDraft(form) {
    var area = form.querySelector('textarea[data-draft]');
    if (!area) { return; }
    restoreDraft(area);
    area.addEventListener('input', function () { saveDraft(area); });
    // And right before sending, whatever filled the box.
    form.addEventListener('htmx:beforeRequest', function () { saveDraft(area); });
  }

  /* ---------------------------------------------------------------- notices */

  // A failed htmx request (signed out, access gone, a tab left on another business, 404, a server
  // error, no network) says so in the notice area (base.html) and swaps nothing: the pane and the
  // composer's text stay as they were. The server's notices (config/htmx_errors.py) carry the
  // X-Inbox-Notice header; only their bodies are ever shown, never an error page.
  var NOTICE_HEADER = 'X-Inbox-Notice';
  var KEEPS_TEXT = 'Anything you typed is kept.';

  function noticeKind(xhr) {
    try { return xhr && xhr.getResponseHeader ? xhr.getResponseHeader(NOTICE_HEADER) : null; }
    catch (e) { return null; }
  }

  function noticeArea() {
    var area = byId('notice-area');
    if (!area) {
      area = document.createElement('div');
      area.id = 'notice-area';
      area.className = 'notice-area';
      document.body.appendChild(area);
    }
    return area;
  }

  // The same markup as templates/htmx_notice.html, for what only the browser knows (no network).
  function buildNotice(kind, title, text, actionLabel, actionUrl) {
    var box = document.createElement('div');
    box.className = 'notice notice-' + kind;
    box.setAttribute('role', 'alert');
    box.dataset.notice = kind;
    box.innerHTML = '<svg class="icon notice-icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2"/><path d="M12 7.8v5.4M12 16.3v.2" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/></svg>'
      + '<div class="notice-body"><p class="notice-title"></p><p class="notice-text"></p></div>'
      + '<button type="button" class="icon-button notice-close" data-notice-close aria-label="Dismiss"><svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg></button>';
    box.querySelector('.notice-title').textContent = title;
    box.querySelector('.notice-text').textContent = text;
    if (actionLabel) {
      var actions = document.createElement('p');
      actions.className = 'notice-actions';
      var link = document.createElement('a');
      link.className = 'button notice-action';
      link.href = actionUrl;
      link.textContent = actionLabel;
      actions.appendChild(link);
      box.querySelector('.notice-body').appendChild(actions);
    }
    return box;
  }

  function showNotice(box) {
    var area = noticeArea();
    area.replaceChildren(box);
    area.hidden = false;
  }

  function hideNotice() {
    var area = byId('notice-area');
    if (area && !area.hidden) { area.hidden = true; area.replaceChildren(); }
  }

  function showServerNotice(xhr) {
    var tpl = document.createElement('template');
    tpl.innerHTML = xhr.responseText || '';
    var box = tpl.content.querySelector('[data-notice]');
    showNotice(box || buildNotice('error', 'That did not work', KEEPS_TEXT + ' Reload the page to carry on.',
      'Reload', window.location.href));
  }

  function isWholePage(html) {
    return /^\s*(<!doctype html|<html[\s>])/i.test(html || '');
  }

  function onNoticeBeforeSwap(evt) {
    var detail = evt.detail;
    var xhr = detail.xhr;
    if (noticeKind(xhr)) {
      detail.shouldSwap = false;
      detail.isError = true;
      xhr.inboxNoticeShown = true;
      showServerNotice(xhr);
      return;
    }
    var target = detail.target;
    if (detail.shouldSwap && isWholePage(detail.serverResponse) && target !== document.body
        && target !== document.documentElement) {
      // A whole page where a fragment belongs (a redirect the server did not turn into a notice).
      detail.shouldSwap = false;
      detail.isError = true;
      xhr.inboxNoticeShown = true;
      showNotice(buildNotice('stale', 'This page is out of date', KEEPS_TEXT + ' Reload the page to carry on.',
        'Reload', window.location.href));
    }
  }

  function onNoticeResponseError(evt) {
    var xhr = evt.detail.xhr;
    if (!xhr || xhr.inboxNoticeShown || noticeKind(xhr)) { return; }
    var elt = evt.detail.elt;
    // An action's own refusal (a 422 composer, a short 4xx reason) is shown by htmx:afterRequest.
    if (elt && elt.matches && elt.matches('[data-live-response]') && xhr.status < 500) { return; }
    showNotice(buildNotice('error', 'Something went wrong', KEEPS_TEXT + ' Try again in a moment; if it keeps '
      + 'happening, reload the page.', 'Reload', window.location.href));
  }

  function onNoticeSendError() {
    showNotice(buildNotice('network', 'Could not reach the server', 'Check your connection and try again. '
      + KEEPS_TEXT));
  }

  document.addEventListener('click', function (evt) {
    var close = evt.target.closest && evt.target.closest('[data-notice-close]');
    if (close) { hideNotice(); }
  });

  // The fragments an opened conversation brings along (its row, the unread badges) are placed as
  // the push would place them.
  function applyPaneFragments() {
    document.querySelectorAll('#conversation-pane > template[data-live-fragments]').forEach(function (tpl) {
      tpl.remove();
      applyLive(tpl.innerHTML);
    });
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

  // A snooze preset or typed time is meant in the staff member's own time zone: the form says which
  // (without the script the server takes its own).
  document.addEventListener('submit', function (evt) {
    var tz = evt.target && evt.target.querySelector ? evt.target.querySelector('input[data-timezone]') : null;
    if (!tz) { return; }
    try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { tz.value = ''; }
  }, true);

  // Escape closes an open menu (the snooze menu is a <details>) and gives focus back to its button.
  document.addEventListener('keydown', function (evt) {
    if (evt.key !== 'Escape' || !evt.target.closest) { return; }
    var menu = evt.target.closest('details[open].snooze-menu');
    if (menu) { menu.open = false; menu.querySelector('summary').focus(); }
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

    body.addEventListener('htmx:wsClose', function (evt) {
      if (accessClosed(evt)) { return; }
      body.dataset.ws = 'closed';
      liveStatus('Live updates paused. Reconnecting…');
    });

    body.addEventListener('htmx:wsBeforeMessage', function (evt) {
      evt.preventDefault();
      if (accessEnded || accessFrame(evt.detail.message)) { return; }
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
        hideNotice();
        applyPaneFragments();
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
      if (xhr && (xhr.inboxNoticeShown || noticeKind(xhr))) { return; }  // the notice says it
      if (evt.detail.successful) {
        hideNotice();
        if (elt.matches('[data-composer]')) { forgetDraft(elt); }  // accepted: the draft is done
        applyLive(xhr.responseText, { own: true });
        if (elt.matches('[data-composer]')) { resetComposer(elt); }
      } else if (xhr && xhr.status === 422) {
        applyLive(xhr.responseText, { force: true, own: true });
      } else if (xhr && xhr.status >= 400 && xhr.status < 500) {
        toast(xhr.responseText && xhr.responseText.length < 300 ? xhr.responseText : 'That did not work. Reload the page and try again.');
      }
    });

    body.addEventListener('htmx:beforeSwap', onNoticeBeforeSwap);
    body.addEventListener('htmx:responseError', onNoticeResponseError);
    body.addEventListener('htmx:sendError', onNoticeSendError);
  }

  window.socialInbox = { applyLive: applyLive, catchUpMessages: catchUpMessages, refreshList: refreshList, toast: toast,
    dayKey: dayKey, dateFormat: makeFormat };
})();

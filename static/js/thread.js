/*
 * Social Inbox: a readable thread. Day separators ("Today", "Yesterday", "Mon 30 Nov") before the first
 * message of each day, consecutive messages of one side grouped, and a conversation opened from the
 * search results scrolled to the matching message with the search text marked.
 *
 * All of it is worked out here, not on the server, because days are the member's own (their time
 * zone, see the profile) and messages arrive one at a time from several places (the first render,
 * the older and newer pages, live pushes, a reconnect's catch-up, a message replaced by its update).
 * Every change to a thread's children is watched (MutationObserver) and the layout recomputed; the
 * recomputation changes nothing when nothing needs it, so it settles at once.
 */
(function () {
  'use strict';

  // Messages of one side this close together read as one turn: less space, one time below the last.
  var GROUP_GAP_MS = 5 * 60 * 1000;
  var DAY_MS = 864e5;
  var observed = typeof WeakSet === 'function' ? new WeakSet() : null;

  function inbox() { return window.socialInbox || {}; }

  function dayKey(when) {
    if (inbox().dayKey) { return inbox().dayKey(when); }
    return when.getFullYear() + '-' + ('0' + (when.getMonth() + 1)).slice(-2) + '-' + ('0' + when.getDate()).slice(-2);
  }

  var labelFormats = null;
  function labelFormat(withYear) {
    if (!labelFormats) {
      var make = inbox().dateFormat || function (o) { return new Intl.DateTimeFormat(undefined, o); };
      labelFormats = {
        day: make({ weekday: 'short', day: 'numeric', month: 'short' }),
        year: make({ weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' })
      };
    }
    return withYear ? labelFormats.year : labelFormats.day;
  }

  // The moment of a message: its data-sort starts with microseconds since the epoch.
  function messageTime(el) {
    var micros = parseInt((el.dataset.sort || '').slice(0, 20), 10);
    return isNaN(micros) ? null : new Date(micros / 1000);
  }

  function dayLabel(when, key) {
    var now = new Date();
    if (key === dayKey(now)) { return 'Today'; }
    if (key === dayKey(new Date(now.getTime() - DAY_MS))) { return 'Yesterday'; }
    return labelFormat(key.slice(0, 4) !== dayKey(now).slice(0, 4)).format(when);
  }

  function makeSeparator(key, label) {
    var sep = document.createElement('div');
    sep.className = 'day-separator';
    sep.dataset.daySeparator = key;
    sep.setAttribute('role', 'separator');
    sep.setAttribute('aria-label', label);
    var span = document.createElement('span');
    span.textContent = label;
    sep.appendChild(span);
    return sep;
  }

  function groupable(el) {
    var d = el.dataset.direction;
    return el.classList.contains('msg') && !el.classList.contains('msg-note') && (d === 'inbound' || d === 'outbound');
  }

  function sameTurn(a, b, ta, tb) {
    if (!groupable(a) || !groupable(b) || a.dataset.direction !== b.dataset.direction) { return false; }
    if (a.dataset.direction === 'outbound' && a.dataset.author !== b.dataset.author) { return false; }
    return ta && tb && Math.abs(tb - ta) <= GROUP_GAP_MS;
  }

  function setClass(el, name, on) {
    if (el.classList.contains(name) !== on) { el.classList.toggle(name, on); }
  }

  function layout(container) {
    var items = Array.prototype.slice.call(container.querySelectorAll(':scope > [data-live="message"]'));
    var wanted = new Map();
    var prevKey = null;
    var times = items.map(messageTime);
    items.forEach(function (el, i) {
      var key = times[i] ? dayKey(times[i]) : prevKey;
      if (key && key !== prevKey) { wanted.set(el, key); }
      prevKey = key;
    });
    // Separators that no longer stand right before the first message of their day go.
    container.querySelectorAll(':scope > [data-day-separator]').forEach(function (sep) {
      var next = sep.nextElementSibling;
      if (!next || wanted.get(next) !== sep.dataset.daySeparator) { sep.remove(); }
    });
    wanted.forEach(function (key, el) {
      var i = items.indexOf(el);
      var label = dayLabel(times[i], key);
      var prev = el.previousElementSibling;
      if (prev && prev.dataset.daySeparator === key) {
        // "Today" becomes "Yesterday" after midnight.
        if (prev.getAttribute('aria-label') !== label) {
          prev.setAttribute('aria-label', label);
          prev.firstChild.textContent = label;
        }
        return;
      }
      container.insertBefore(makeSeparator(key, label), el);
    });
    items.forEach(function (el, i) {
      var before = items[i - 1];
      var after = items[i + 1];
      var withPrev = !!before && !wanted.has(el) && sameTurn(before, el, times[i - 1], times[i]);
      var withNext = !!after && !wanted.has(after) && sameTurn(el, after, times[i], times[i + 1]);
      setClass(el, 'is-grouped-prev', withPrev);
      setClass(el, 'is-grouped-next', withNext);
    });
  }

  var pending = [];
  function schedule(container) {
    if (pending.indexOf(container) >= 0) { return; }
    pending.push(container);
    Promise.resolve().then(function () {
      var list = pending;
      pending = [];
      list.forEach(function (c) { if (c.isConnected) { layout(c); } });
    });
  }

  function watch(container) {
    if (!container || (observed && observed.has(container)) || container.dataset.threadWatched) { return; }
    if (observed) { observed.add(container); } else { container.dataset.threadWatched = '1'; }
    layout(container);
    if (window.MutationObserver) {
      new MutationObserver(function () { schedule(container); }).observe(container, { childList: true });
    }
  }

  function watchAll(root) {
    (root || document).querySelectorAll('.messages[data-conversation]').forEach(watch);
  }

  /* ---------------------------------------------------------------- the search match */

  function escapeRegExp(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

  // Wraps each occurrence of q in the message's own text in <mark>: text nodes only, so the
  // message's markup (links, mentions) and the customer's words are never parsed as HTML.
  function highlight(el, q) {
    if (!q || el.dataset.highlighted) { return; }
    el.dataset.highlighted = '1';
    var pattern = new RegExp(escapeRegExp(q), 'gi');
    el.querySelectorAll('.msg-text, .msg-system-text').forEach(function (box) {
      var walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT, null);
      var nodes = [];
      while (walker.nextNode()) { nodes.push(walker.currentNode); }
      nodes.forEach(function (node) {
        var text = node.nodeValue;
        pattern.lastIndex = 0;
        var found = pattern.exec(text);
        if (!found) { return; }
        var frag = document.createDocumentFragment();
        var last = 0;
        while (found) {
          if (found.index > last) { frag.appendChild(document.createTextNode(text.slice(last, found.index))); }
          var mark = document.createElement('mark');
          mark.className = 'search-hit';
          mark.textContent = found[0];
          frag.appendChild(mark);
          last = found.index + found[0].length;
          if (!found[0].length) { break; }
          found = pattern.exec(text);
        }
        if (last < text.length) { frag.appendChild(document.createTextNode(text.slice(last))); }
        node.parentNode.replaceChild(frag, node);
      });
    });
  }

  function centre(box, el) {
    var top = el.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    box.scrollTop = Math.max(0, top - (box.clientHeight - el.offsetHeight) / 2);
    box.stick = false;
  }

  function showMatch(pane) {
    var match = pane && pane.querySelector('.messages > [data-match]');
    if (!match) { return; }
    var box = match.closest('[data-scroll]');
    highlight(match, match.dataset.match);
    match.classList.add('is-match');
    if (!box) { return; }
    centre(box, match);
    // Photos above the match finish loading after this and push it down: keep it in view until
    // staff scroll themselves, or for a few seconds.
    var moved = false;
    function stop() { moved = true; }
    ['wheel', 'touchstart', 'keydown', 'mousedown'].forEach(function (name) {
      box.addEventListener(name, stop, { once: true, passive: true });
    });
    function onLoad() { if (!moved && match.isConnected) { centre(box, match); } }
    box.addEventListener('load', onLoad, true);
    setTimeout(function () { box.removeEventListener('load', onLoad, true); }, 4000);
  }

  /* ---------------------------------------------------------------- events */

  function paneOpened() {
    watchAll(document);
    showMatch(document.getElementById('conversation-pane'));
  }

  document.addEventListener('DOMContentLoaded', paneOpened);

  document.addEventListener('htmx:afterSwap', function (evt) {
    var el = evt.target;
    if (el && el.id === 'conversation-pane') { paneOpened(); }
    else if (el && el.closest && el.closest('.messages')) { watchAll(document); }
  });

  // A search narrows the list: opening one of its rows opens that conversation at the matching
  // message (conversation_detail's `q`). The row's own link stays as it is for everyone else.
  document.addEventListener('htmx:configRequest', function (evt) {
    var elt = evt.detail.elt;
    if (!elt || !elt.matches || !elt.matches('.conv-link')) { return; }
    var results = document.getElementById('conversation-results');
    var q = results ? (results.dataset.q || '') : '';
    if (q) { evt.detail.parameters.q = q; }
  });

  // A reply sent from a conversation opened at an older match: show the thread's end, where the
  // reply is (live messages wait for the newer pages until then).
  document.addEventListener('htmx:afterRequest', function (evt) {
    var elt = evt.detail.elt;
    if (!evt.detail.successful || !elt || !elt.matches || !elt.matches('[data-composer]')) { return; }
    var container = document.querySelector('#conversation-pane .messages[data-conversation]');
    if (!container || !container.querySelector(':scope > [data-newer]') || !window.htmx) { return; }
    var url = (container.dataset.messagesUrl || '').replace(/messages\/$/, '');
    if (!url) { return; }
    // htmx carries a replaced element's style attribute over to its namesake while it settles (the
    // composer's grown height), which the CSP refuses: the new pane starts from its own.
    document.querySelectorAll('#conversation-pane [id][style]').forEach(function (el) { el.removeAttribute('style'); });
    window.htmx.ajax('GET', url, { target: '#conversation-pane', swap: 'outerHTML' });
  });

  // Past midnight "Today" is "Yesterday": relabel now and then (as inbox.js refreshes the times).
  setInterval(function () { watchAll(document); document.querySelectorAll('.messages[data-conversation]').forEach(layout); }, 60000);
})();

/*
 * The reply window in view (templates/inbox/_reply_window_chip.html, inbox/templatetags/reply_window_tags.py).
 *
 * 1. The header's chip counts down from its data-deadline ("23h left", "1h 12m left", "Closes in 9 min",
 *    "Human agent: 6d left"), turns amber under data-soon seconds, and when the deadline passes asks
 *    the server for the conversation's live fragments (header and composer): the server decides what
 *    may be sent now, the page only shows the clock. A customer's new message moves the deadline, and
 *    the push of a message into an open window does not carry the header: then it is asked for too.
 * 2. The "Needs reply" and "Expiring soon" views are decided by the server, which the pushed rows
 *    cannot tell the page: while one of them is shown, the list is fetched again shortly after a push
 *    or an action changed rows.
 */
(function () {
  'use strict';

  var MINUTE = 60;
  var HOUR = 3600;
  var DAY = 86400;
  // A deadline is asked about once in this long: a clock ahead of the server's must not loop.
  var ASK_AGAIN_MS = 30000;
  var LIST_REFRESH_DELAY_MS = 1200;

  var asked = {};
  var listTimer = null;

  /* Mirrors countdown_text() in inbox/templatetags/reply_window_tags.py. */
  function format(seconds, humanAgent) {
    seconds = Math.max(Math.floor(seconds), 0);
    var days = Math.floor(seconds / DAY);
    var hours = Math.floor((seconds % DAY) / HOUR);
    var minutes = Math.floor((seconds % HOUR) / MINUTE);
    if (humanAgent) {
      // Days to the nearest one: just after the 24 hours close, "6d left" (of the 7).
      if (seconds >= 2 * DAY) { return 'Human agent: ' + Math.round(seconds / DAY) + 'd left'; }
      if (seconds >= HOUR) { return 'Human agent: ' + Math.floor(seconds / HOUR) + 'h left'; }
      return 'Human agent: ' + Math.max(minutes, 1) + ' min left';
    }
    if (days) { return hours ? days + 'd ' + hours + 'h left' : days + 'd left'; }
    if (seconds >= 2 * HOUR) { return hours + 'h left'; }
    if (hours) { return hours + 'h ' + minutes + 'm left'; }
    return 'Closes in ' + Math.max(minutes, 1) + ' min';
  }

  function label(chip, text) {
    if (chip.dataset.state === 'human') {
      return 'The 24-hour window has closed; replies go as a human agent message. ' + text;
    }
    if (text.indexOf('Closes') === 0) { return 'The reply window c' + text.slice(1); }
    return 'Reply window' + (chip.hasAttribute('data-ad') ? ' (opened from an ad)' : '') + ': ' + text;
  }

  function tick(chip) {
    var deadline = Date.parse(chip.dataset.deadline || '');
    if (isNaN(deadline)) { return; }
    var left = (deadline - Date.now()) / 1000;
    if (left <= 0) { askServer(chip); return; }
    var human = chip.dataset.state === 'human';
    var text = format(left, human);
    var textEl = chip.querySelector('[data-reply-window-text]');
    var labelEl = chip.querySelector('[data-reply-window-label]');
    if (textEl && textEl.textContent !== text) { textEl.textContent = text; }
    var sentence = label(chip, text);
    // Only real changes are written: the observer below sees every write.
    if (labelEl && labelEl.textContent !== sentence) { labelEl.textContent = sentence; chip.title = sentence; }
    if (!human) {
      var soon = left < (parseInt(chip.dataset.soon, 10) || 2 * HOUR);
      chip.classList.toggle('rw-soon', soon);
      chip.classList.toggle('rw-open', !soon);
    }
  }

  function lastMessageId(container) {
    var last = 0;
    container.querySelectorAll('[data-live="message"]').forEach(function (el) {
      var id = parseInt((el.id || '').replace('message-', ''), 10);
      if (id > last) { last = id; }
    });
    return last;
  }

  // The deadline passed: the conversation's live fragments (its header with this chip, its composer),
  // placed by inbox.js like any action's answer (data-live-response).
  function askServer(chip) {
    var key = chip.dataset.conversation + '@' + chip.dataset.deadline;
    if (asked[key] && Date.now() - asked[key] < ASK_AGAIN_MS) { return; }
    asked[key] = Date.now();
    var container = document.getElementById('messages-' + chip.dataset.conversation);
    if (!container || !container.dataset.messagesUrl || !window.htmx) { return; }
    var url = container.dataset.messagesUrl + '?after=' + lastMessageId(container);
    chip.setAttribute('data-live-response', '');
    window.htmx.ajax('GET', url, { source: chip, target: chip, swap: 'none' });
  }

  // A customer's message that came after the chip was drawn moves its deadline (24 hours from it);
  // the pushed message does not carry the header, so ask for it.
  function checkNewMessage(node) {
    if (!node.matches || !node.matches('.msg-inbound[data-conversation], .msg-system[data-conversation]')) { return; }
    var chip = document.querySelector('[data-reply-window][data-deadline][data-conversation="' + node.dataset.conversation + '"]');
    if (!chip || (chip.dataset.state !== 'open' && chip.dataset.state !== 'soon')) { return; }
    var time = node.querySelector('time[datetime]');
    var at = time ? Date.parse(time.getAttribute('datetime')) : NaN;
    if (!isNaN(at) && at + DAY * 1000 > Date.parse(chip.dataset.deadline) + MINUTE * 1000) { askServer(chip); }
  }

  function tickAll() {
    document.querySelectorAll('[data-reply-window][data-deadline]').forEach(tick);
  }

  function activeView() {
    return document.querySelector('.inbox-filters [data-reply-view].is-active');
  }

  function refreshListSoon() {
    if (!activeView()) { return; }
    if (listTimer) { clearTimeout(listTimer); }
    listTimer = setTimeout(function () {
      listTimer = null;
      var view = activeView();
      if (!view || !window.htmx || !document.getElementById('conversation-results')) { return; }
      window.htmx.ajax('GET', view.getAttribute('href'), { target: '#conversation-results', swap: 'outerHTML' });
    }, LIST_REFRESH_DELAY_MS);
  }

  function init() {
    var body = document.body;
    tickAll();
    // Every 15 s is enough for minutes; the last minutes are ticked every 5 s by the same call.
    setInterval(tickAll, 15000);
    setInterval(function () {
      document.querySelectorAll('[data-reply-window][data-deadline]').forEach(function (chip) {
        var left = Date.parse(chip.dataset.deadline) - Date.now();
        if (left < 10 * MINUTE * 1000) { tick(chip); }
      });
    }, 5000);
    // Headers arrive by htmx swaps and by inbox.js's live placement: format new chips at once.
    if (window.MutationObserver) {
      new MutationObserver(function (records) {
        var added = false;
        for (var i = 0; i < records.length; i++) {
          for (var j = 0; j < records[i].addedNodes.length; j++) {
            added = true;
            checkNewMessage(records[i].addedNodes[j]);
          }
        }
        if (added) { tickAll(); }
      }).observe(body, { childList: true, subtree: true });
    }
    body.addEventListener('htmx:wsBeforeMessage', refreshListSoon);
    body.addEventListener('htmx:wsOpen', refreshListSoon);
    body.addEventListener('htmx:afterRequest', function (evt) {
      var elt = evt.detail && evt.detail.elt;
      if (elt && elt.matches && elt.matches('[data-live-response]') && !elt.matches('[data-reply-window]')) {
        refreshListSoon();
      }
    });
  }

  if (document.body) { init(); } else { document.addEventListener('DOMContentLoaded', init); }
}());

/*
 * Alerts: browser notifications (and an optional short sound) for what the server pushes to this
 * member only (inbox/services/alerts.py): new conversations, new messages in conversations assigned
 * to them, mentions. Each arrives over the inbox socket as <template data-alert ...>.
 *
 * - Permission is asked only after a click: the button in the notification choices (profile) or
 *   the small prompt the inbox shows until it is answered or dismissed.
 * - Nothing is shown for the conversation that is open on a visible tab: it is already on screen.
 * - While the tab is hidden, the title counts the alerts missed: "(2) Inbox · …"; seeing the tab
 *   again gives the title back to the page (its unread count, js/inbox.js).
 * - Clicking a notification brings the tab forward and opens the conversation.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var soundUrl = script ? script.dataset.sound : '';
  var PROMPT_KEY = 'inbox:alerts-prompt-dismissed';
  var supported = 'Notification' in window;
  var seen = [];
  var missed = 0;
  var pageTitle = null;   // the title the page itself last set
  var ourTitle = null;    // the title this script last set (the observer hears it too)

  function byId(id) { return document.getElementById(id); }

  function openConversation() {
    var pane = byId('conversation-pane');
    return pane && pane.dataset.conversation ? pane.dataset.conversation : '';
  }

  function onScreen(conversation) {
    return document.visibilityState === 'visible' && conversation && conversation === openConversation();
  }

  /* ------------------------------------------------------------------ title */

  function applyTitle() {
    if (pageTitle === null) { pageTitle = document.title; }
    var wanted = missed > 0 ? '(' + missed + ') ' + pageTitle.replace(/^\(\d+\+?\)\s*/, '') : pageTitle;
    if (document.title !== wanted) {
      ourTitle = wanted;
      document.title = wanted;
    }
  }

  function watchTitle() {
    var el = document.querySelector('title');
    if (!el || !window.MutationObserver) { return; }
    new MutationObserver(function () {
      if (document.title === ourTitle) { return; }
      pageTitle = document.title;  // the page changed it (its unread count): keep ours on top of it
      if (missed > 0) { applyTitle(); }
    }).observe(el, { childList: true, characterData: true, subtree: true });
  }

  /* ------------------------------------------------------------------ alerts */

  function openFromAlert(conversation, url) {
    window.focus();
    var link = document.querySelector('#conversation-' + conversation + ' a.conv-link');
    if (link) { link.click(); } else if (url) { window.location.assign(url); }
  }

  function playSound() {
    if (!soundUrl) { return; }
    try {
      var audio = new Audio(soundUrl);
      audio.volume = 0.6;
      var played = audio.play();
      if (played && played.catch) { played.catch(function () { /* not allowed before a click: silent */ }); }
    } catch (e) { /* no audio here */ }
  }

  function show(el) {
    var d = el.dataset;
    if (!d.key || seen.indexOf(d.key) >= 0) { return; }
    seen.push(d.key);
    if (seen.length > 200) { seen.shift(); }
    if (onScreen(d.conversation)) { return; }
    if (document.visibilityState !== 'visible') { missed += 1; applyTitle(); }
    if (d.sound) { playSound(); }
    if (!supported || window.Notification.permission !== 'granted') { return; }
    try {
      var note = new window.Notification(d.title || 'Social Inbox', {
        body: d.body || '', tag: 'inbox-' + d.conversation + '-' + d.kind, silent: true
      });
      note.onclick = function () { note.close(); openFromAlert(d.conversation, d.url); };
    } catch (e) { /* this browser only shows notifications from a service worker */ }
  }

  function receive(message) {
    if (typeof message !== 'string' || message.indexOf('data-alert') < 0) { return; }
    var tpl = document.createElement('template');
    tpl.innerHTML = message;
    tpl.content.querySelectorAll('template[data-alert]').forEach(show);
  }

  /* -------------------------------------------------------------- permission */

  function stateText() {
    if (!supported) { return 'This browser cannot show desktop notifications.'; }
    if (window.Notification.permission === 'granted') { return 'Desktop notifications are on in this browser.'; }
    if (window.Notification.permission === 'denied') { return 'Desktop notifications are blocked for this site in your browser settings.'; }
    return '';
  }

  function ask(then) {
    if (!supported || window.Notification.permission !== 'default') { then(); return; }
    var answer = window.Notification.requestPermission(function () { then(); });
    if (answer && answer.then) { answer.then(function () { then(); }); }
  }

  function initPreferences(root) {
    (root || document).querySelectorAll('[data-alert-permission]').forEach(function (box) {
      var button = box.querySelector('[data-alert-enable]');
      var state = box.querySelector('[data-alert-permission-state]');
      function refresh() {
        if (state) { state.textContent = stateText(); }
        if (button) { button.hidden = !supported || window.Notification.permission !== 'default'; }
      }
      box.hidden = false;
      refresh();
      if (button && !button.dataset.ready) {
        button.dataset.ready = '1';
        button.addEventListener('click', function () { ask(refresh); });
      }
    });
  }

  function dismissed() {
    try { return window.localStorage.getItem(PROMPT_KEY) === '1'; } catch (e) { return false; }
  }

  function initPrompt() {
    var bell = byId('notification-bell');
    if (!byId('inbox') || !bell || !supported || window.Notification.permission !== 'default' || dismissed()) { return; }
    if (window.matchMedia && window.matchMedia('(max-width: 760px)').matches) { return; }
    var box = document.createElement('div');
    box.className = 'alert-prompt';
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', 'Desktop notifications');
    var turnOn = document.createElement('button');
    turnOn.type = 'button';
    turnOn.className = 'link alert-prompt-on';
    turnOn.textContent = 'Turn on notifications';
    turnOn.setAttribute('aria-label', 'Turn on desktop notifications');
    turnOn.title = 'Show a desktop notification for new conversations, your messages and mentions';
    var later = document.createElement('button');
    later.type = 'button';
    later.className = 'icon-button alert-prompt-close';
    later.setAttribute('aria-label', 'Not now');
    later.title = 'Not now';
    later.textContent = '×';
    box.appendChild(turnOn);
    box.appendChild(later);
    bell.parentNode.insertBefore(box, bell);
    turnOn.addEventListener('click', function () { ask(function () { box.remove(); }); });
    later.addEventListener('click', function () {
      try { window.localStorage.setItem(PROMPT_KEY, '1'); } catch (e) { /* shown again next time */ }
      box.remove();
    });
  }

  /* ------------------------------------------------------------------ wiring */

  function init() {
    var body = document.body;
    if (!body) { return; }
    body.addEventListener('htmx:wsBeforeMessage', function (evt) { receive(evt.detail ? evt.detail.message : null); });
    body.addEventListener('htmx:afterSwap', function () { initPreferences(document); });
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible' && missed) { missed = 0; applyTitle(); }
    });
    watchTitle();
    initPreferences(document);
    initPrompt();
  }

  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', init); }
  else { init(); }
})();

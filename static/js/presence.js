/*
 * Presence and reply collisions, over the inbox's own socket (htmx ws extension).
 *
 * The page says where its member is: {"presence": "viewing"|"typing"|"idle", "conversation": <id>}:
 * viewing when a conversation is open on a visible tab (again every 20 s, a heartbeat), typing while
 * they write a reply (at most every 2 s), idle when the tab is hidden or no conversation is open.
 * The server answers with JSON frames ("presence", "presence.gone") about the other members, which
 * are shown in the open conversation's header ("Sara is typing…") and as a small stack of who is
 * online. Entries expire here too (45 s; typing after 6 s), so a lost frame cannot leave a ghost.
 *
 * Collisions: the reply form's hidden "seen" is the newest message on the page while the reply box
 * is empty; once the member types it stays, so a reply someone else sent meanwhile is warned about.
 */
(function () {
  'use strict';

  var HEARTBEAT_MS = 20000;
  var TYPING_EVERY_MS = 2000;
  var TYPING_MS = 6000;

  var socket = null;          // the ws extension's wrapper while the socket is open
  var entries = {};           // socket id -> {entry, expiresAt, typingUntil}
  var lastSent = '';
  var lastTypingAt = 0;
  var heartbeat = null;

  function byId(id) { return document.getElementById(id); }

  function me() {
    var inbox = byId('inbox');
    return inbox ? (inbox.dataset.user || '') : '';
  }

  function openConversation() {
    var pane = byId('conversation-pane');
    var id = pane && pane.dataset.conversation ? parseInt(pane.dataset.conversation, 10) : 0;
    return id > 0 ? id : null;
  }

  /* ---------------------------------------------------------------- sending */

  function send(state, force) {
    if (!socket) { return; }
    var conversation = openConversation();
    if (!conversation || document.visibilityState === 'hidden') { state = 'idle'; }
    var frame = JSON.stringify(state === 'idle' ? { presence: 'idle' } : { presence: state, conversation: conversation });
    if (!force && frame === lastSent && state !== 'typing') { return; }
    lastSent = frame;
    try { socket.send(frame); } catch (e) { /* closed meanwhile: sent again on reconnect */ }
  }

  // Still typing (a keystroke in the last few seconds): a heartbeat must not turn it into viewing.
  function sendCurrent(force) { send(Date.now() - lastTypingAt < TYPING_MS ? 'typing' : 'viewing', force); }

  function onTyping(evt) {
    var area = evt.target;
    if (!area || !area.id || area.id.indexOf('reply-text-') !== 0) { return; }
    var now = Date.now();
    if (now - lastTypingAt < TYPING_EVERY_MS) { return; }
    lastTypingAt = now;
    send('typing', true);
  }

  /* -------------------------------------------------------------- receiving */

  function receive(message) {
    if (typeof message !== 'string' || message.charAt(0) !== '{') { return; }
    var data;
    try { data = JSON.parse(message); } catch (e) { return; }
    if (!data || (data.type !== 'presence' && data.type !== 'presence.gone')) { return; }
    if (data.type === 'presence.gone') {
      delete entries[data.socket];
    } else {
      if (data.snapshot) { entries = {}; }
      var now = Date.now();
      (data.entries || []).forEach(function (entry) {
        if (String(entry.user) === me()) { return; }
        entries[entry.socket] = {
          entry: entry,
          expiresAt: now + (entry.expires_in || 45) * 1000,
          typingUntil: entry.state === 'typing' ? now + (entry.typing_for || TYPING_MS / 1000) * 1000 : 0
        };
      });
    }
    render();
  }

  /* -------------------------------------------------------------- rendering */

  // Per member (a member may have several tabs): online, and what they do in each conversation.
  function members() {
    var now = Date.now();
    var byUser = {};
    Object.keys(entries).forEach(function (key) {
      var item = entries[key];
      if (item.expiresAt < now) { delete entries[key]; return; }
      var e = item.entry;
      var user = byUser[e.user] || (byUser[e.user] = { name: e.name, initials: e.initials, colour: e.colour, at: {} });
      if (e.conversation && e.state !== 'idle') {
        var typing = e.state === 'typing' && item.typingUntil > now;
        user.at[e.conversation] = user.at[e.conversation] === 'typing' || typing ? 'typing' : 'viewing';
      }
    });
    return Object.keys(byUser).map(function (id) { return byUser[id]; })
      .sort(function (a, b) { return a.name.localeCompare(b.name); });
  }

  function names(list) {
    if (list.length <= 2) { return list.join(' and '); }
    return list.slice(0, -1).join(', ') + ' and ' + list[list.length - 1];
  }

  function activityText(list, conversation) {
    var typing = [];
    var viewing = [];
    list.forEach(function (m) {
      if (m.at[conversation] === 'typing') { typing.push(m.name); }
      else if (m.at[conversation] === 'viewing') { viewing.push(m.name); }
    });
    var parts = [];
    if (typing.length) { parts.push(names(typing) + (typing.length > 1 ? ' are typing a reply…' : ' is typing a reply…')); }
    if (viewing.length) { parts.push(names(viewing) + (viewing.length > 1 ? ' are viewing' : ' is viewing')); }
    return { text: parts.join(' · '), typing: typing.length > 0 };
  }

  function avatar(m) {
    var li = document.createElement('li');
    var span = document.createElement('span');
    span.className = 'avatar staff-avatar avatar-xs avatar-c' + (parseInt(m.colour, 10) || 0);
    span.setAttribute('role', 'img');
    span.setAttribute('aria-label', m.name);
    span.title = m.name + ' is online';
    span.textContent = m.initials || '?';
    li.appendChild(span);
    return li;
  }

  function render() {
    var list = members();
    document.querySelectorAll('[data-presence-for]').forEach(function (box) {
      var conversation = box.dataset.presenceFor;
      var line = box.querySelector('[data-presence-activity]');
      var online = box.querySelector('[data-presence-online]');
      if (line) {
        var act = activityText(list, conversation);
        if (line.textContent !== act.text) { line.textContent = act.text; }
        line.hidden = !act.text;
        line.classList.toggle('is-typing', act.typing);
      }
      var signature = list.map(function (m) { return m.name + ':' + m.initials + ':' + m.colour; }).join('|');
      if (online && online.dataset.signature !== signature) {
        online.dataset.signature = signature;
        var shown = list.slice(0, 4).map(avatar);
        if (list.length > 4) {
          var more = document.createElement('li');
          more.className = 'presence-more';
          more.textContent = '+' + (list.length - 4);
          more.title = names(list.slice(4).map(function (m) { return m.name; })) + ' online';
          shown.push(more);
        }
        online.replaceChildren.apply(online, shown);
        online.hidden = list.length === 0;
        online.setAttribute('aria-label', list.length ? 'Online: ' + names(list.map(function (m) { return m.name; })) : 'Teammates online');
      }
    });
  }

  /* ------------------------------------------------------------- collisions */

  function newestMessageId() {
    var newest = 0;
    document.querySelectorAll('#conversation-pane .messages > [data-live="message"]').forEach(function (el) {
      var id = parseInt(el.id.replace('message-', ''), 10);
      if (id > newest) { newest = id; }
    });
    return newest;
  }

  // While the reply box is empty the member has everything on screen before them: "seen" follows.
  function updateSeen() {
    document.querySelectorAll('#conversation-pane form[data-composer] input[data-seen]').forEach(function (input) {
      var area = input.form ? input.form.querySelector('textarea[name="text"]') : null;
      if (area && area.value.trim()) { return; }
      var newest = newestMessageId();
      if (newest && newest > (parseInt(input.value, 10) || 0)) { input.value = String(newest); }
    });
  }

  /* ---------------------------------------------------------------- wiring */

  function init() {
    var body = document.body;
    if (!body) { return; }

    body.addEventListener('htmx:wsOpen', function (evt) {
      socket = evt.detail && evt.detail.socketWrapper ? evt.detail.socketWrapper : null;
      entries = {};
      lastSent = '';
      render();
      sendCurrent(true);
      clearInterval(heartbeat);
      heartbeat = setInterval(function () { sendCurrent(true); }, HEARTBEAT_MS);
    });

    body.addEventListener('htmx:wsClose', function () {
      socket = null;
      clearInterval(heartbeat);
      entries = {};
      render();
    });

    body.addEventListener('htmx:wsBeforeMessage', function (evt) {
      receive(evt.detail ? evt.detail.message : null);
    });

    body.addEventListener('input', onTyping);

    // A reply sent: no longer typing.
    body.addEventListener('htmx:afterRequest', function (evt) {
      var elt = evt.detail && evt.detail.elt;
      if (!elt || !elt.matches || !elt.matches('form[data-composer]')) { return; }
      lastTypingAt = 0;
      sendCurrent(true);
      // Sent (anyway): the warning has done its job.
      if (evt.detail.successful) {
        elt.querySelectorAll('[data-collision]').forEach(function (el) { el.remove(); });
        updateSeen();
      }
    });

    // Another conversation opened (or none): say so, and show what is known about it at once.
    var shown = openConversation();
    body.addEventListener('htmx:afterSettle', function () {
      if (openConversation() !== shown) { shown = openConversation(); lastTypingAt = 0; }
      sendCurrent(false);
      render();
      updateSeen();
    });
    window.addEventListener('popstate', function () { setTimeout(function () { sendCurrent(false); }, 0); });

    document.addEventListener('visibilitychange', function () { sendCurrent(false); });
    window.addEventListener('pagehide', function () { send('idle', true); });

    // Header and composer fragments are swapped in by the live updates: fill the new ones in.
    var inbox = byId('inbox');
    if (inbox && window.MutationObserver) {
      var pending = false;
      new MutationObserver(function () {
        if (pending) { return; }
        pending = true;
        setTimeout(function () { pending = false; render(); updateSeen(); }, 0);
      }).observe(inbox, { childList: true, subtree: true });
    }

    // Typing and online states run out even when nothing arrives.
    setInterval(render, 1000);
    updateSeen();
  }

  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', init); }
  else { init(); }
})();

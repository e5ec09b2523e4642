/*
 * Tells the server when a live push put customers' messages on this screen, so channel health can show
 * how long messages take from Meta's webhook to a person's screen (inbox/latency.py). Only a visible
 * page acknowledges; ids are gathered and sent at most once a second, as {"ack": [ids]}.
 */
(function () {
  'use strict';

  var SEND_EVERY_MS = 1000;
  var MAX_IDS = 50;
  var INBOUND = /<article id="message-(\d+)" class="msg msg-inbound/g;
  var socket = null;
  var pending = [];
  var timer = null;
  var lastSentAt = 0;

  function flush() {
    timer = null;
    if (!socket || !pending.length) { pending = []; return; }
    var ids = pending.slice(0, MAX_IDS);
    pending = [];
    lastSentAt = Date.now();
    try { socket.send(JSON.stringify({ ack: ids })); } catch (e) { /* closed meanwhile: a sample lost */ }
  }

  function schedule() {
    if (timer) { return; }
    var wait = Math.max(0, SEND_EVERY_MS - (Date.now() - lastSentAt));
    // After the page has placed the push (its own listener runs on this same event) and painted it.
    timer = setTimeout(function () { requestAnimationFrame(flush); }, wait);
  }

  function received(text) {
    if (typeof text !== 'string' || text.indexOf('msg-inbound') === -1) { return; }
    if (document.visibilityState !== 'visible') { return; }
    var match;
    INBOUND.lastIndex = 0;
    while ((match = INBOUND.exec(text)) !== null) {
      var id = parseInt(match[1], 10);
      if (pending.indexOf(id) === -1 && pending.length < MAX_IDS) { pending.push(id); }
    }
    if (pending.length) { schedule(); }
  }

  document.addEventListener('DOMContentLoaded', function () {
    var body = document.body;
    body.addEventListener('htmx:wsOpen', function (evt) {
      socket = evt.detail && evt.detail.socketWrapper ? evt.detail.socketWrapper : null;
    });
    body.addEventListener('htmx:wsClose', function () { socket = null; pending = []; });
    body.addEventListener('htmx:wsBeforeMessage', function (evt) { received(evt.detail ? evt.detail.message : null); });
  });
})();

/*
 * Social Inbox: photos of a conversation, large. A click on a photo in the thread opens it in a
 * <dialog> over the page; ← and → go through the thread's photos, Esc, the close button or a click
 * beside the photo closes it, and the focus goes back to the photo it came from. Without the script
 * a stored photo still opens in a tab of its own (its link).
 *
 * Photos smaller than the thread's minimum box (thread.css) are shown at their own size, not blown up.
 */
(function () {
  'use strict';

  var PHOTOS = '.messages .att-image img, .messages .att-story_mention img';
  var MIN_SIDE = 120;

  var dialog = null;
  var shown = null;  // the thread's <img> on show
  var opener = null;

  function icon(path) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    var p = document.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    p.setAttribute('fill', 'none');
    p.setAttribute('stroke', 'currentColor');
    p.setAttribute('stroke-width', '2.2');
    p.setAttribute('stroke-linecap', 'round');
    p.setAttribute('stroke-linejoin', 'round');
    svg.appendChild(p);
    return svg;
  }

  function button(cls, label, path, onClick) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'icon-button lightbox-' + cls;
    b.setAttribute('aria-label', label);
    b.title = label;
    b.appendChild(icon(path));
    b.addEventListener('click', function (evt) { evt.stopPropagation(); onClick(); });
    return b;
  }

  function build() {
    dialog = document.createElement('dialog');
    dialog.className = 'lightbox';
    dialog.id = 'lightbox';
    dialog.setAttribute('aria-label', 'Photo');
    var figure = document.createElement('figure');
    figure.className = 'lightbox-figure';
    var img = document.createElement('img');
    img.className = 'lightbox-img';
    img.alt = '';
    var caption = document.createElement('figcaption');
    caption.className = 'lightbox-caption';
    figure.appendChild(img);
    figure.appendChild(caption);
    dialog.appendChild(figure);
    dialog.appendChild(button('prev', 'Previous photo', 'M15 5l-7 7 7 7', function () { step(-1); }));
    dialog.appendChild(button('next', 'Next photo', 'M9 5l7 7-7 7', function () { step(1); }));
    dialog.appendChild(button('close', 'Close', 'M6 6l12 12M18 6L6 18', close));
    // A click beside the photo (on the dialog's backdrop area) closes it; on the photo it does not.
    dialog.addEventListener('click', function (evt) { if (evt.target === dialog || evt.target === figure) { close(); } });
    dialog.addEventListener('keydown', function (evt) {
      if (evt.key === 'ArrowLeft') { step(-1); evt.preventDefault(); }
      else if (evt.key === 'ArrowRight') { step(1); evt.preventDefault(); }
    });
    dialog.addEventListener('close', function () {
      var back = opener;
      opener = null;
      shown = null;
      if (back && back.isConnected) { back.focus(); }
    });
    document.body.appendChild(dialog);
  }

  function photos() {
    return Array.prototype.filter.call(document.querySelectorAll(PHOTOS), function (img) {
      return img.getClientRects().length > 0;
    });
  }

  function show(img) {
    shown = img;
    var big = dialog.querySelector('.lightbox-img');
    big.src = img.currentSrc || img.src;
    big.alt = img.alt || '';
    big.referrerPolicy = img.referrerPolicy || '';
    var all = photos();
    var at = all.indexOf(img);
    dialog.querySelector('.lightbox-caption').textContent =
      all.length > 1 ? 'Photo ' + (at + 1) + ' of ' + all.length : '';
    dialog.querySelector('.lightbox-prev').hidden = at <= 0;
    dialog.querySelector('.lightbox-next').hidden = at < 0 || at >= all.length - 1;
  }

  function step(by) {
    var all = photos();
    var at = all.indexOf(shown);
    var next = all[at + by];
    if (next) { show(next); }
  }

  function open(img) {
    if (!dialog) { build(); }
    // Focus returns to what a keyboard reached: the photo's link, or the photo itself.
    opener = img.closest('a') || img;
    show(img);
    if (!dialog.open) { dialog.showModal(); }
    dialog.querySelector('.lightbox-close').focus();
  }

  function close() { if (dialog && dialog.open) { dialog.close(); } }

  document.addEventListener('click', function (evt) {
    if (evt.defaultPrevented || evt.button !== 0 || evt.ctrlKey || evt.metaKey || evt.shiftKey) { return; }
    var target = evt.target;
    var img = target.matches && target.matches(PHOTOS) ? target
      : (target.closest && target.closest('.messages .att a') ? target.closest('.att').querySelector('img') : null);
    if (!img || !img.matches(PHOTOS)) { return; }
    evt.preventDefault();
    open(img);
  });

  // Photos without a link of their own (Meta's CDN) are reached by keyboard too.
  function prepare(root) {
    (root || document).querySelectorAll(PHOTOS).forEach(function (img) {
      if (img.dataset.lightbox) { return; }
      img.dataset.lightbox = '1';
      if (!img.closest('a')) {
        img.tabIndex = 0;
        img.setAttribute('role', 'button');
      }
      function measure() {
        if (img.naturalWidth && Math.min(img.naturalWidth, img.naturalHeight) < MIN_SIDE) { img.classList.add('is-small'); }
      }
      if (img.complete) { measure(); } else { img.addEventListener('load', measure, { once: true }); }
    });
  }

  document.addEventListener('keydown', function (evt) {
    if ((evt.key === 'Enter' || evt.key === ' ') && evt.target.matches && evt.target.matches(PHOTOS)) {
      evt.preventDefault();
      open(evt.target);
    }
  });

  document.addEventListener('DOMContentLoaded', function () {
    prepare(document);
    var inbox = document.getElementById('inbox');
    if (inbox && window.MutationObserver) {
      // New messages, pages of history, another conversation: whatever the way, once per batch.
      var queued = false;
      new MutationObserver(function () {
        if (queued) { return; }
        queued = true;
        Promise.resolve().then(function () {
          queued = false;
          prepare(document.getElementById('conversation-pane') || document);
        });
      }).observe(inbox, { childList: true, subtree: true });
    }
  });
})();

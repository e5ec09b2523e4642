/* The reply composer's richer parts (templates/inbox/conversation_detail.html, partial "composer"):
 * several files (picker, drag and drop, pasted images) shown as chips with a remove button, a voice
 * note recorded with MediaRecorder, a quick replies row, quoting a customer's message ("Reply" on its
 * bubble), the page's reaction picker, and the typing indicator sent while an agent writes.
 *
 * The files live in the form's own <input type=file multiple> (set through a DataTransfer), so the
 * form posts them as it would any file. What staff attached or quoted is also kept per conversation
 * in memory, so a composer re-rendered with an error (a 422) gets it back.
 */
(function () {
  'use strict';

  var kept = {};  // conversation pk -> {files: [File], quote: {pk, text}}
  var TYPING_EVERY_MS = 5000;  // the server lets one typing_on through per 10 s; this only spares requests
  var lastTyping = {};
  var recorder = null;

  function state(pk) {
    if (!kept[pk]) { kept[pk] = { files: [], quote: null }; }
    return kept[pk];
  }

  function composerOf(el) { return el && el.closest ? el.closest('[data-rich-composer]') : null; }

  function headers() {
    var extra = {};
    try { extra = JSON.parse(document.body.getAttribute('hx-headers') || '{}'); } catch (e) { extra = {}; }
    extra['HX-Request'] = 'true';
    return extra;
  }

  /* ------------------------------------------------------------------ files */

  function syncInput(form) {
    var input = form.querySelector('[data-files]');
    var files = state(form.dataset.richComposer).files;
    if (input && window.DataTransfer) {
      var transfer = new DataTransfer();
      files.forEach(function (f) { transfer.items.add(f); });
      input.files = transfer.files;
    }
    renderChips(form);
  }

  function sizeLabel(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + ' MB'; }
    return Math.max(1, Math.round(bytes / 1024)) + ' KB';
  }

  function renderChips(form) {
    var list = form.querySelector('[data-chips]');
    if (!list) { return; }
    var files = state(form.dataset.richComposer).files;
    list.replaceChildren();
    files.forEach(function (file, index) {
      var chip = document.createElement('li');
      chip.className = 'composer-chip';
      chip.setAttribute('data-chip', '');
      var kind = (file.type || '').split('/')[0];
      var name = document.createElement('span');
      name.className = 'chip-name';
      name.textContent = file.name;
      chip.classList.add('chip-' + (['image', 'audio', 'video'].indexOf(kind) >= 0 ? kind : 'file'));
      var size = document.createElement('span');
      size.className = 'muted';
      size.textContent = (kind === 'audio' ? 'Audio · ' : '') + sizeLabel(file.size);
      var remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'chip-remove';
      remove.setAttribute('data-chip-remove', String(index));
      remove.setAttribute('aria-label', 'Remove ' + file.name);
      remove.textContent = '×';
      chip.append(name, size, remove);
      list.append(chip);
    });
    list.hidden = !files.length;
  }

  function addFiles(form, files) {
    var current = state(form.dataset.richComposer).files;
    Array.prototype.forEach.call(files, function (file) {
      var duplicate = current.some(function (f) {
        return f.name === file.name && f.size === file.size && f.lastModified === file.lastModified;
      });
      if (!duplicate) { current.push(file); }
    });
    syncInput(form);
  }

  document.addEventListener('change', function (evt) {
    var input = evt.target;
    if (!input.matches || !input.matches('[data-files]')) { return; }
    var form = composerOf(input);
    if (!form) { return; }
    // The picker replaced the input's list: add what was picked to what was already attached.
    var picked = Array.prototype.slice.call(input.files);
    addFiles(form, picked);
  });

  document.addEventListener('click', function (evt) {
    var target = evt.target.closest ? evt.target : null;
    if (!target) { return; }
    var remove = target.closest('[data-chip-remove]');
    if (remove) {
      var form = composerOf(remove);
      state(form.dataset.richComposer).files.splice(Number(remove.getAttribute('data-chip-remove')), 1);
      syncInput(form);
      return;
    }
    var reply = target.closest('[data-reply-to]');
    if (reply) { quote(reply); return; }
    var clear = target.closest('[data-quote-clear]');
    if (clear) { setQuote(composerOf(clear), null); return; }
    var toggle = target.closest('[data-quick-replies-toggle]');
    if (toggle) { toggleQuickReplies(composerOf(toggle), toggle); return; }
    var add = target.closest('[data-quick-reply-add]');
    if (add) { addQuickReply(composerOf(add)); return; }
    var record = target.closest('[data-record]');
    if (record) { toggleRecording(composerOf(record), record); }
  });

  document.addEventListener('dragover', function (evt) {
    var form = composerOf(evt.target);
    if (!form || !evt.dataTransfer || Array.prototype.indexOf.call(evt.dataTransfer.types, 'Files') < 0) { return; }
    evt.preventDefault();
    form.classList.add('is-dropping');
  });
  document.addEventListener('dragleave', function (evt) {
    var form = composerOf(evt.target);
    if (form && !form.contains(evt.relatedTarget)) { form.classList.remove('is-dropping'); }
  });
  document.addEventListener('drop', function (evt) {
    var form = composerOf(evt.target);
    if (!form || !evt.dataTransfer || !evt.dataTransfer.files.length) { return; }
    evt.preventDefault();
    form.classList.remove('is-dropping');
    addFiles(form, evt.dataTransfer.files);
  });
  document.addEventListener('paste', function (evt) {
    var form = composerOf(evt.target);
    if (!form || !evt.clipboardData) { return; }
    var images = Array.prototype.filter.call(evt.clipboardData.files || [], function (f) {
      return (f.type || '').indexOf('image/') === 0;
    });
    if (!images.length) { return; }  // plain text pastes as usual
    evt.preventDefault();
    addFiles(form, images);
  });

  /* ------------------------------------------------------------ voice notes */

  function recordingType() {
    if (!window.MediaRecorder || !MediaRecorder.isTypeSupported) { return ''; }
    // MP4 (AAC) where the browser records it: Instagram and more phones play it; WebM/Opus elsewhere.
    if (MediaRecorder.isTypeSupported('audio/mp4')) { return 'audio/mp4'; }
    if (MediaRecorder.isTypeSupported('audio/webm')) { return 'audio/webm'; }
    return '';
  }

  function showRecorders(scope) {
    var can = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && recordingType());
    (scope || document).querySelectorAll('[data-record]').forEach(function (b) { b.hidden = !can; });
  }

  function toggleRecording(form, button) {
    var status = form.querySelector('[data-recording]');
    var label = button.querySelector('[data-record-label]');
    if (recorder && recorder.state === 'recording') { recorder.stop(); return; }
    var type = recordingType();
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var chunks = [];
      var started = Date.now();
      recorder = new MediaRecorder(stream, { mimeType: type });
      recorder.addEventListener('dataavailable', function (e) { if (e.data && e.data.size) { chunks.push(e.data); } });
      recorder.addEventListener('stop', function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        button.setAttribute('aria-pressed', 'false');
        button.classList.remove('is-recording');
        if (label) { label.textContent = 'Record a voice note'; }
        if (status) { status.hidden = true; }
        var seconds = Math.round((Date.now() - started) / 1000);
        if (!chunks.length) { return; }
        var ext = type === 'audio/mp4' ? 'm4a' : 'webm';
        var file = new File(chunks, 'voice-note-' + seconds + 's.' + ext, { type: type });
        addFiles(form, [file]);
      });
      recorder.start();
      button.setAttribute('aria-pressed', 'true');
      button.classList.add('is-recording');
      if (label) { label.textContent = 'Stop recording'; }
      if (status) { status.textContent = 'Recording a voice note… press the microphone again to stop.'; status.hidden = false; }
    }).catch(function () {
      if (window.socialInbox) { window.socialInbox.toast('The microphone is not available: allow it in the browser to record.'); }
    });
  }

  /* ---------------------------------------------------------- quick replies */

  function toggleQuickReplies(form, toggle) {
    var box = form.querySelector('[data-quick-replies]');
    var open = box.hidden;
    box.hidden = !open;
    toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    box.querySelectorAll('input').forEach(function (i) { i.disabled = !open; });  // closed: none are sent
    if (open) { box.querySelector('input').focus(); }
  }

  function addQuickReply(form) {
    var list = form.querySelector('[data-quick-reply-list]');
    var count = list.querySelectorAll('input').length;
    if (count >= 13) {
      if (window.socialInbox) { window.socialInbox.toast('Meta shows at most 13 quick replies.'); }
      return;
    }
    var input = document.createElement('input');
    input.type = 'text';
    input.name = 'quick_reply';
    input.maxLength = 20;
    input.setAttribute('aria-label', 'Quick reply ' + (count + 1));
    list.append(input);
    input.focus();
  }

  /* ------------------------------------------------------------------ quote */

  function setQuote(form, quoted) {
    if (!form) { return; }
    state(form.dataset.richComposer).quote = quoted;
    var box = form.querySelector('[data-quote]');
    form.querySelector('[data-reply-to-input]').value = quoted ? quoted.pk : '';
    box.querySelector('[data-quote-text]').textContent = quoted ? quoted.text : '';
    box.hidden = !quoted;
  }

  function quote(button) {
    var message = button.closest('[data-conversation]');
    var form = message && document.querySelector('[data-rich-composer="' + message.dataset.conversation + '"]');
    if (!form) { return; }
    setQuote(form, { pk: button.getAttribute('data-reply-to'), text: button.getAttribute('data-quote') });
    var area = form.querySelector('textarea');
    if (area) { area.focus(); }
  }

  /* ----------------------------------------------------------------- typing */

  function typing(form, action) {
    var url = form.dataset.typingUrl;
    if (!url) { return; }
    var body = new FormData();
    body.append('action', action);
    fetch(url, { method: 'POST', body: body, headers: headers(), credentials: 'same-origin' }).catch(function () {});
  }

  document.addEventListener('input', function (evt) {
    var form = composerOf(evt.target);
    if (!form || !evt.target.matches('textarea') || !evt.target.value.trim()) { return; }
    var pk = form.dataset.richComposer;
    var now = Date.now();
    if (lastTyping[pk] && now - lastTyping[pk] < TYPING_EVERY_MS) { return; }
    lastTyping[pk] = now;
    typing(form, 'typing_on');
  });

  document.addEventListener('focusout', function (evt) {
    var form = composerOf(evt.target);
    if (!form || !evt.target.matches('textarea') || !lastTyping[form.dataset.richComposer]) { return; }
    if (form.contains(evt.relatedTarget)) { return; }
    lastTyping[form.dataset.richComposer] = 0;
    typing(form, 'typing_off');
  });

  /* ------------------------------------------------------ reactions' picker */

  document.addEventListener('submit', function (evt) {
    var picker = evt.target.closest && evt.target.closest('[data-react-picker]');
    if (picker) { picker.open = false; }
  });

  /* ------------------------------------------------------ after each request */

  document.addEventListener('htmx:afterRequest', function (evt) {
    var elt = evt.detail.elt;
    if (!elt || !elt.matches || !elt.matches('[data-rich-composer]')) { return; }
    var pk = elt.dataset.richComposer;
    var xhr = evt.detail.xhr;
    if (evt.detail.successful) {
      kept[pk] = { files: [], quote: null };
      lastTyping[pk] = 0;
      var form = document.querySelector('[data-rich-composer="' + pk + '"]');
      if (form) { syncInput(form); setQuote(form, null); }
    } else if (xhr && xhr.status === 422) {
      // inbox.js swapped in the composer with the error: give it back the files and the quote.
      var fresh = document.querySelector('[data-rich-composer="' + pk + '"]');
      if (fresh) { restore(fresh); }
    }
  });

  function restore(form) {
    var saved = kept[form.dataset.richComposer];
    showRecorders(form);
    form.querySelectorAll('[data-quick-replies] input').forEach(function (i) {
      i.disabled = form.querySelector('[data-quick-replies]').hidden;
    });
    if (!saved) { return; }
    syncInput(form);
    setQuote(form, saved.quote);
  }

  function init(scope) {
    (scope || document).querySelectorAll('[data-rich-composer]').forEach(restore);
  }

  document.addEventListener('DOMContentLoaded', function () { init(document); });
  document.addEventListener('htmx:load', function (evt) { init(evt.target && evt.target.querySelectorAll ? evt.target : document); });
})();

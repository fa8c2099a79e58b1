// The hunting page's KQL editor: colours the query as it is typed and
// offers the tables' columns, operators and functions as completions.
//
// It knows no KQL itself: the tokens (and the first error) come from the
// server (POST /api/kql/tokens, netward-hunt's own lexer), the names from
// GET /api/kql/schema (the event model's schema). The textarea stays the
// form's field; without this script it is a plain textarea. Colouring is
// a <pre> under the textarea, whose text is transparent (caret kept).
(function () {
  'use strict';
  var wrap = document.getElementById('kql-editor');
  if (!wrap) return;
  var ta = wrap.querySelector('textarea');
  var csrf = wrap.getAttribute('data-csrf') || '';
  var MAX_BYTES = 64 * 1024; // the server's limit (413 above)
  var DEBOUNCE_MS = 120;
  var MAX_ITEMS = 12;

  var pre = document.createElement('pre');
  pre.className = 'kql-hl';
  pre.id = 'kql-highlight';
  pre.setAttribute('aria-hidden', 'true');
  var mirror = document.createElement('pre');
  mirror.className = 'kql-hl kql-mirror';
  mirror.setAttribute('aria-hidden', 'true');
  var menu = document.createElement('ul');
  menu.className = 'kql-menu';
  menu.id = 'kql-completions';
  menu.setAttribute('role', 'listbox');
  menu.hidden = true;
  var status = document.createElement('div');
  status.className = 'kql-status';
  status.id = 'kql-status';
  status.setAttribute('aria-live', 'polite');
  wrap.insertBefore(pre, ta);
  wrap.insertBefore(mirror, ta);
  wrap.appendChild(menu);
  wrap.parentNode.insertBefore(status, wrap.nextSibling);
  wrap.classList.add('kql-on');

  // The last answer: the text it was for, its tokens [start, end, class]
  // (UTF-16 offsets), its first error.
  var shown = { text: null, tokens: [], error: null };
  var timer = null;
  var schema = null;
  var items = [];
  var active = 0;
  var word = null; // {start, end} of the prefix being completed

  function span(text, cls, start, end) {
    var s = document.createElement('span');
    s.className = cls;
    s.setAttribute('data-start', start);
    s.setAttribute('data-end', end);
    s.textContent = text;
    return s;
  }

  // Draws `text` with `tokens` (those past the text's end are dropped)
  // and marks the tokens the error covers.
  function render(text, tokens, error) {
    var out = document.createDocumentFragment();
    var at = 0;
    var marked = false;
    for (var i = 0; i < tokens.length; i++) {
      var t = tokens[i];
      if (t[1] > text.length || t[0] < at) break;
      if (t[0] > at) out.appendChild(document.createTextNode(text.slice(at, t[0])));
      var cls = 'kql-' + t[2];
      if (error && t[0] < Math.max(error.end, error.start + 1) && t[1] > error.start) {
        cls += ' kql-err';
        marked = true;
      }
      out.appendChild(span(text.slice(t[0], t[1]), cls, t[0], t[1]));
      at = t[1];
    }
    if (at < text.length) out.appendChild(document.createTextNode(text.slice(at)));
    if (error && !marked) {
      // An error at the end (a missing operand): an empty marked place.
      out.appendChild(span('', 'kql-err kql-err-end', error.start, error.end));
    }
    // A final newline needs a character after it to take its line.
    out.appendChild(document.createTextNode(' '));
    pre.replaceChildren(out);
    pre.scrollTop = ta.scrollTop;
    pre.scrollLeft = ta.scrollLeft;
  }

  function showStatus(error, message) {
    if (message) {
      status.textContent = message;
      status.className = 'kql-status kql-status-error';
    } else if (error) {
      status.textContent = 'line ' + error.line + ', column ' + error.col + ': ' + error.message;
      status.className = 'kql-status kql-status-error';
    } else {
      status.textContent = '';
      status.className = 'kql-status';
    }
  }

  // Length of the common start of a and b.
  function common(a, b) {
    var n = Math.min(a.length, b.length);
    var i = 0;
    while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
    return i;
  }

  // Right after an edit: keep the colours of the unchanged start (the old
  // tokens that end before the edit) until the server answers.
  function redrawNow() {
    var text = ta.value;
    if (shown.text === text) {
      render(text, shown.tokens, shown.error);
      return;
    }
    var keep = shown.text === null ? 0 : common(shown.text, text);
    var toks = shown.tokens.filter(function (t) { return t[1] < keep; });
    var err = shown.error && shown.error.end < keep ? shown.error : null;
    render(text, toks, err);
    // The old message only while its place is unchanged.
    showStatus(err, null);
  }

  function request() {
    var text = ta.value;
    if (text.trim() === '') {
      // Nothing typed yet is not an error worth a message.
      shown = { text: text, tokens: [], error: null };
      render(text, [], null);
      showStatus(null, null);
      return;
    }
    if (new Blob([text]).size > MAX_BYTES) {
      shown = { text: text, tokens: [], error: null };
      render(text, [], null);
      showStatus(null, 'The query is over 64 KiB: not coloured.');
      return;
    }
    fetch('/api/kql/tokens', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-CSRF-Token': csrf },
      body: text
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, body: j }; });
    }).then(function (a) {
      if (ta.value !== text) return; // typed on since: a newer request follows
      if (!a.ok) {
        showStatus(null, a.body.error || 'colouring failed');
        return;
      }
      shown = { text: text, tokens: a.body.tokens, error: a.body.error };
      render(text, shown.tokens, shown.error);
      showStatus(shown.error, null);
    }).catch(function () { /* offline: the textarea still works */ });
  }

  function schedule() {
    redrawNow();
    clearTimeout(timer);
    timer = setTimeout(request, DEBOUNCE_MS);
  }

  // ---- completions ----

  function loadSchema() {
    if (schema) return;
    schema = { tables: [], operators: [], keywords: [], functions: [] };
    fetch('/api/kql/schema', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j) schema = j; })
      .catch(function () {});
  }

  // Whether offset `at` is inside a string, a comment or refused text
  // (an unterminated string) of the last answer. Typing on at the end of
  // an unterminated string or a comment stays inside it.
  function inLiteral(at) {
    var old = shown.text;
    if (old === null) return false;
    var keep = common(old, ta.value);
    for (var i = 0; i < shown.tokens.length; i++) {
      var t = shown.tokens[i];
      if (t[0] >= keep) break;
      var open = t[2] === 'error' || t[2] === 'comment';
      var end = t[1];
      if (open && end === old.length && keep === old.length && ta.value.slice(end, at).indexOf('\n') < 0) end = at;
      if (t[0] < at && at <= end) return t[2] === 'string' || open;
    }
    return false;
  }

  // The table the pipeline at `at` reads: the last table name before it.
  function tableBefore(at) {
    var name = null;
    var keep = shown.text === null ? 0 : common(shown.text, ta.value);
    for (var i = 0; i < shown.tokens.length; i++) {
      var t = shown.tokens[i];
      if (t[1] > Math.min(at, keep)) break;
      if (t[2] === 'table') name = shown.text.slice(t[0], t[1]);
    }
    return name;
  }

  function candidates(prefix, start) {
    var before = ta.value.slice(0, start).replace(/\s+$/, '');
    var afterPipe = before.charAt(before.length - 1) === '|';
    var lists = [];
    var cols = function (t) { return t.columns.map(function (c) { return { name: c[0], kind: c[1] }; }); };
    var named = function (list, kind) { return list.map(function (n) { return { name: n, kind: kind }; }); };
    if (afterPipe) {
      lists.push(named(schema.operators, 'operator'));
    } else {
      var table = tableBefore(start);
      var tables = schema.tables || [];
      if (before === '' || /;$/.test(before)) lists.push(named(tables.map(function (t) { return t.name; }), 'table'));
      tables.forEach(function (t) { if (t.name === table) lists.push(cols(t)); });
      tables.forEach(function (t) { if (t.name !== table) lists.push(cols(t)); });
      lists.push(named(schema.functions, 'function'));
      lists.push(named(schema.keywords, 'keyword'));
      lists.push(named(tables.map(function (t) { return t.name; }), 'table'));
    }
    var low = prefix.toLowerCase();
    var seen = {};
    var out = [];
    lists.forEach(function (list) {
      list.forEach(function (c) {
        if (out.length >= MAX_ITEMS || seen[c.name]) return;
        if (c.name.length > prefix.length && c.name.toLowerCase().indexOf(low) === 0) {
          seen[c.name] = true;
          out.push(c);
        }
      });
    });
    return out;
  }

  function hide() {
    menu.hidden = true;
    items = [];
    word = null;
  }

  function drawMenu() {
    menu.replaceChildren();
    items.forEach(function (c, i) {
      var li = document.createElement('li');
      li.setAttribute('role', 'option');
      li.setAttribute('data-value', c.name);
      li.className = 'kql-item kql-item-' + c.kind + (i === active ? ' kql-active' : '');
      li.textContent = c.name;
      var k = document.createElement('small');
      k.textContent = ' ' + c.kind;
      li.appendChild(k);
      li.addEventListener('mousedown', function (e) {
        e.preventDefault(); // keep the focus in the textarea
        active = i;
        accept();
      });
      menu.appendChild(li);
    });
  }

  // Puts the menu under the caret: the text before it laid out in a hidden
  // copy of the overlay, ending in a marker.
  function place(at) {
    mirror.textContent = ta.value.slice(0, at);
    var mark = document.createElement('span');
    mark.textContent = '\u200b';
    mirror.appendChild(mark);
    menu.style.left = Math.min(mark.offsetLeft, Math.max(0, wrap.clientWidth - 260)) + 'px';
    menu.style.top = (mark.offsetTop + mark.offsetHeight - ta.scrollTop) + 'px';
  }

  function suggest() {
    if (!schema || ta.selectionStart !== ta.selectionEnd) return hide();
    var at = ta.selectionStart;
    var before = ta.value.slice(0, at);
    var m = /[A-Za-z_$][\w-]*$/.exec(before);
    if (m && m[0].indexOf('-') >= 0 && !/^[a-z]+-/.test(m[0])) m = /[A-Za-z_$]\w*$/.exec(before);
    if (!m || /[\w$]/.test(before.charAt(m.index - 1))) return hide();
    if (inLiteral(at)) return hide();
    var prefix = m[0];
    items = candidates(prefix, m.index);
    if (items.length === 0) return hide();
    word = { start: m.index, end: at };
    active = 0;
    drawMenu();
    menu.hidden = false;
    place(at);
  }

  function accept() {
    var c = items[active];
    if (!c || !word) return hide();
    ta.setRangeText(c.name, word.start, word.end, 'end');
    hide();
    schedule();
  }

  ta.addEventListener('input', function () {
    schedule();
    suggest();
  });
  ta.addEventListener('keydown', function (e) {
    if (menu.hidden) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      drawMenu();
      e.preventDefault();
    } else if (e.key === 'Tab' || e.key === 'Enter') {
      e.preventDefault();
      accept();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      hide();
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End') {
      hide();
    }
  });
  ta.addEventListener('scroll', function () {
    pre.scrollTop = ta.scrollTop;
    pre.scrollLeft = ta.scrollLeft;
    if (!menu.hidden) hide();
  });
  ta.addEventListener('click', hide);
  ta.addEventListener('blur', hide);
  ta.addEventListener('focus', loadSchema);

  loadSchema();
  // A query opened in the editor (a link, a saved query) is coloured at once.
  redrawNow();
  request();
})();

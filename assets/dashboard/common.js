// Shared by the dashboard pages: the API token, JSON requests, building elements from
// data (always as text: post text is untrusted and never becomes markup) and word diffs.
'use strict';

const LW = (() => {
  const KEY = 'livewatch-token';

  // A token given in the address fragment (`/#token=…`, never sent to the server) is
  // kept for this tab and removed from the address bar.
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }

  function token() {
    return sessionStorage.getItem(KEY);
  }

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    const t = token();
    if (t) h.Authorization = 'Bearer ' + t;
    return h;
  }

  // A URL that is safe as a link target: http(s) only.
  function safeHref(v) {
    try {
      const u = new URL(v, location.href);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : '#';
    } catch (e) {
      return '#';
    }
  }

  // el('a', {href, class, text}, child…): attributes set one by one, text as text.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
      else if (k === 'href') e.setAttribute('href', safeHref(v));
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function showLogin() {
    const box = document.getElementById('login');
    if (!box || !box.hidden) return;
    box.hidden = false;
    const input = el('input', { type: 'password', name: 'token', autocomplete: 'off', 'aria-label': 'API token' });
    const form = el('form', {
      onsubmit: (ev) => {
        ev.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        location.reload();
      },
    }, el('label', {}, 'This dashboard needs the API token (api_token): ', input), ' ', el('button', { type: 'submit', text: 'Sign in' }));
    box.replaceChildren(form);
  }

  // A JSON request; a failure throws an Error with `status` and `field`.
  async function api(method, path, body) {
    const opts = { method, cache: 'no-store', headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}) };
    if (body !== undefined) opts.body = JSON.stringify(body);
    const r = await fetch(path, opts);
    const text = await r.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { error: text.trim() };
      }
    }
    if (r.status === 401) showLogin();
    if (!r.ok) {
      const err = new Error((data && data.error) || r.status + ' ' + r.statusText);
      err.status = r.status;
      err.field = data && data.field;
      throw err;
    }
    return data;
  }

  // `[-old-]` and `{+new+}` of a word diff as <del> and <ins>, the rest as text.
  function diffNode(diff) {
    const box = el('span', { class: 'diff' });
    const re = /\[-([\s\S]*?)-\]|\{\+([\s\S]*?)\+\}/g;
    let last = 0;
    let mm;
    while ((mm = re.exec(diff))) {
      if (mm.index > last) box.append(document.createTextNode(diff.slice(last, mm.index)));
      box.append(mm[1] !== undefined ? el('del', { text: mm[1] }) : el('ins', { text: mm[2] }));
      last = re.lastIndex;
    }
    if (last < diff.length) box.append(document.createTextNode(diff.slice(last)));
    return box;
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function ago(iso) {
    if (!iso) return 'never';
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (isNaN(s)) return String(iso);
    if (s < 5) return 'just now';
    if (s < 90) return s + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 129600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  }

  function truncate(s, n) {
    s = String(s || '');
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  function postTitle(p) {
    if (p.headline && p.headline.trim()) return p.headline;
    return (p.body || '').split('\n').find((l) => l.trim()) || p.id;
  }

  function postLink(slug, id) {
    return '/blogs/' + encodeURIComponent(slug) + '/posts/' + encodeURIComponent(id);
  }

  // One server-sent event block (`id:`, `event:`, `data:` lines): its event, or null.
  function parseBlock(block) {
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(5).replace(/^ /, '');
    }
    if (!data) return null;
    try {
      return JSON.parse(data);
    } catch (e) {
      return null;
    }
  }

  // Follow /events, read with fetch (so the token can go in a header), for ever: after a
  // dropped connection it reconnects with Last-Event-ID = lastId() (the last event shown),
  // so the server sends what was missed first. onState('live' | 'reconnecting', text).
  async function follow(lastId, onEvent, onState) {
    for (;;) {
      try {
        const h = headers({ Accept: 'text/event-stream' });
        const last = lastId();
        if (last) h['Last-Event-ID'] = last;
        const r = await fetch('/events', { headers: h, cache: 'no-store' });
        if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
        onState('live', 'live');
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = parseBlock(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (ev) onEvent(ev);
          }
        }
      } catch (e) {
        // reconnect below
      }
      onState('reconnecting', 'reconnecting…');
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  return { token, headers, el, api, diffNode, fmtTime, ago, truncate, postTitle, postLink, showLogin, follow };
})();

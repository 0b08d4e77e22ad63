// The dashboard: blogs with their status, the live stream (/events, resumed with
// Last-Event-ID after a reconnect), the watches and trying a URL. Every element is built
// with LW.el (text as text): nothing from a blog ever becomes markup.
'use strict';

(() => {
  const { api, el, diffNode, fmtTime, ago, truncate, postTitle, postLink } = LW;
  const KINDS = ['new', 'edit', 'correction', 'removed', 'problem', 'recovered', 'closed'];
  const LABELS = { new: 'New', edit: 'Edit', correction: 'Correction', removed: 'Removed', problem: 'Problem', recovered: 'Recovered', closed: 'Closed', test: 'Test' };
  const MAX_ITEMS = 500;

  const stream = document.getElementById('stream');
  const conn = document.getElementById('conn');
  const filterBlog = document.getElementById('filter-blog');
  const filterKinds = document.getElementById('filter-kinds');
  let slugByUrl = new Map();
  let titleByUrl = new Map();
  let lastId = null;
  const seen = new Set();

  for (const k of KINDS) {
    filterKinds.append(el('label', { class: 'kind' }, el('input', { type: 'checkbox', value: k, checked: true, onchange: applyFilters }), ' ' + LABELS[k]));
  }
  filterBlog.addEventListener('change', applyFilters);

  function setConn(state, text) {
    conn.dataset.state = state;
    conn.textContent = text;
  }

  // ---- blogs ----

  // live / quiet / closed / retired / failing / paused / new, and why.
  function statusOf(b) {
    const state = String(b.state || 'new');
    return [state.replace(/[^a-z]/g, '-'), state, b.state_reason || ''];
  }

  async function loadBlogs() {
    const blogs = await api('GET', '/blogs');
    slugByUrl = new Map(blogs.map((b) => [b.url, b.slug]));
    titleByUrl = new Map(blogs.map((b) => [b.url, b.title]));
    const body = document.querySelector('#blogs tbody');
    body.replaceChildren(...blogs.map((b) => {
      const [cls, state, why] = statusOf(b);
      return el('tr', { 'data-slug': b.slug },
        el('td', {}, el('a', { href: b.url, class: 'blog-title', text: b.title, rel: 'noopener noreferrer' }), el('div', { class: 'muted small', text: b.slug })),
        el('td', {}, el('span', { class: 'status status-' + cls, text: state }), el('div', { class: 'muted small why', text: truncate(why, 160), title: why })),
        el('td', { title: fmtTime(b.last_poll_at), text: ago(b.last_poll_at) }),
        el('td', { title: fmtTime(b.last_new_post_at), text: ago(b.last_new_post_at) }),
        el('td', { class: 'num', text: b.posts }),
        el('td', { class: 'num', text: b.pending_events }),
        el('td', {}, el('a', { href: b.feeds.atom, text: 'Atom' }), ' ', el('a', { href: b.feeds.json, text: 'JSON' })),
      );
    }));
    document.getElementById('blogs-empty').hidden = blogs.length > 0;
    const chosen = filterBlog.value;
    filterBlog.replaceChildren(el('option', { value: '', text: 'all blogs' }), ...blogs.map((b) => el('option', { value: b.url, text: b.title })));
    filterBlog.value = blogs.some((b) => b.url === chosen) ? chosen : '';
  }

  // ---- the stream ----

  function eventNode(ev) {
    const kind = ev.kind;
    const li = el('li', { class: 'event kind-' + kind, 'data-kind': kind, 'data-blog': ev.blog.url, 'data-id': ev.id });
    if (ev.post) li.dataset.post = ev.post.id;
    li.append(el('div', { class: 'meta' },
      el('span', { class: 'badge badge-' + kind, text: LABELS[kind] || kind }), ' ',
      el('span', { class: 'blog', text: ev.blog.title || ev.blog.url }), ' ',
      el('time', { datetime: ev.detected_at, text: fmtTime(ev.detected_at) })));
    if (ev.post) {
      const p = ev.post;
      const slug = slugByUrl.get(ev.blog.url);
      const title = truncate(postTitle(p), 200);
      const head = slug ? el('a', { href: postLink(slug, p.id), text: title, class: 'history-link' }) : el('span', { text: title });
      if (kind === 'removed') {
        li.append(el('div', { class: 'headline' }, el('s', {}, head)));
        li.append(el('p', { class: 'body' }, el('s', { text: truncate(p.body, 400) })));
      } else {
        li.append(el('div', { class: 'headline' }, head));
        if ((kind === 'edit' || kind === 'correction') && ev.diff) {
          li.append(el('p', { class: 'diff-line' }, diffNode(ev.diff)));
        } else {
          li.append(el('p', { class: 'body', text: truncate(p.body, 400) }));
        }
      }
    } else if (ev.message) {
      li.append(el('p', { class: 'message', text: ev.message }));
    }
    return li;
  }

  function visible(li) {
    const blog = filterBlog.value;
    const kinds = new Set([...filterKinds.querySelectorAll('input:checked')].map((i) => i.value));
    return (!blog || li.dataset.blog === blog) && (kinds.has(li.dataset.kind) || !KINDS.includes(li.dataset.kind));
  }

  function applyFilters() {
    for (const li of stream.children) li.hidden = !visible(li);
  }

  let blogsTimer = null;
  function refreshSoon() {
    clearTimeout(blogsTimer);
    blogsTimer = setTimeout(() => loadBlogs().catch(() => {}), 300);
  }

  function addEvent(ev) {
    if (!ev || !ev.id || seen.has(ev.id)) return;
    seen.add(ev.id);
    if (ev.blog && !slugByUrl.has(ev.blog.url)) refreshSoon();
    const li = eventNode(ev);
    li.hidden = !visible(li);
    stream.prepend(li);
    if (ev.kind === 'removed' && ev.post) {
      for (const other of stream.querySelectorAll('li.event')) {
        if (other !== li && other.dataset.blog === ev.blog.url && other.dataset.post === ev.post.id) other.classList.add('post-removed');
      }
    }
    while (stream.children.length > MAX_ITEMS) stream.lastElementChild.remove();
    document.getElementById('stream-empty').hidden = true;
    lastId = ev.id;
  }

  // ---- watches ----

  async function watchAction(w, action) {
    const err = document.getElementById('add-error');
    err.textContent = '';
    try {
      if (action === 'remove') await api('DELETE', '/api/watches/' + encodeURIComponent(w.id));
      else await api('POST', '/api/watches/' + encodeURIComponent(w.id) + '/' + action);
    } catch (e) {
      err.textContent = e.message;
    }
    await loadBlogs();
    await loadWatches();
  }

  async function loadWatches() {
    const list = await api('GET', '/api/watches');
    const body = document.querySelector('#watches tbody');
    body.replaceChildren(...list.map((w) => {
      const actions = el('td', { class: 'actions' });
      if (w.read_only) {
        actions.append(el('span', { class: 'muted small', text: 'config file' }));
      } else {
        actions.append(
          el('button', { type: 'button', class: 'small-button', text: w.paused ? 'Resume' : 'Pause', onclick: () => watchAction(w, w.paused ? 'resume' : 'pause') }),
          ' ',
          el('button', { type: 'button', class: 'small-button danger', text: 'Remove', onclick: () => watchAction(w, 'remove') }));
      }
      return el('tr', { 'data-id': w.id, 'data-url': w.url, class: w.paused ? 'paused' : null },
        el('td', {}, el('div', { text: w.name || titleByUrl.get(w.url) || w.slug }), el('div', { class: 'muted small url', text: w.url })),
        el('td', { text: w.interval }),
        el('td', {}, el('span', { class: 'source source-' + w.source, text: w.source }), w.paused ? el('span', { class: 'status status-paused', text: ' paused' }) : null),
        actions);
    }));
  }

  function formBody(form) {
    const body = {};
    for (const k of ['url', 'name', 'interval', 'extractor']) {
      const v = form.elements[k].value.trim();
      if (v) body[k] = v;
    }
    return body;
  }

  function showError(form, e) {
    for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
    document.getElementById('add-error').textContent = e ? e.message : '';
    if (e && e.field && form.elements[e.field]) form.elements[e.field].setAttribute('aria-invalid', 'true');
  }

  const form = document.getElementById('add-watch');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(form, null);
    try {
      await api('POST', '/api/watches', formBody(form));
      form.reset();
      document.getElementById('check-result').replaceChildren();
      await loadBlogs();
      await loadWatches();
    } catch (e) {
      showError(form, e);
    }
  });

  document.getElementById('try-button').addEventListener('click', async () => {
    showError(form, null);
    const out = document.getElementById('check-result');
    const b = formBody(form);
    delete b.name;
    delete b.interval;
    out.replaceChildren(el('p', { class: 'muted', text: 'Fetching…' }));
    try {
      const r = await api('POST', '/api/check', b);
      const lay = (l) => l ? l.kind + ' at ' + l.at + ', ' + l.posts + ' posts, score ' + Math.round(l.score) : 'none';
      out.replaceChildren(
        el('p', {}, el('strong', { text: r.title || r.final_url }), ' — ' + r.posts.length + ' posts (' + r.extractor + ')'),
        el('p', { class: 'small', text: 'layout: ' + lay(r.layout) }),
        el('p', { class: 'small muted', text: 'runner-up: ' + lay(r.runner_up) }),
        el('ol', { class: 'check-posts' }, ...r.posts.slice(0, 10).map((p) => el('li', {},
          el('span', { class: 'muted small', text: fmtTime(p.published) + ' ' }),
          el('strong', { text: truncate(postTitle(p), 140) }),
          el('div', { class: 'small', text: truncate(p.body, 200) })))));
    } catch (e) {
      out.replaceChildren();
      showError(form, e);
    }
  });

  // ---- start ----

  async function start() {
    try {
      await loadBlogs();
      await loadWatches();
      const recent = await api('GET', '/api/events?limit=50');
      for (const ev of recent) addEvent(ev);
    } catch (e) {
      setConn('error', e.status === 401 ? 'token needed' : 'error: ' + e.message);
      if (e.status === 401) return;
    }
    LW.follow(() => lastId, (ev) => {
      addEvent(ev);
      refreshSoon();
    }, setConn);
    setInterval(() => {
      loadBlogs().catch(() => {});
      loadWatches().catch(() => {});
    }, 10000);
  }
  start();
})();

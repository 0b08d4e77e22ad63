// A post's history: every stored revision, newest first, with the word diff from the one
// before and its correction notes highlighted. Built with LW.el: text stays text.
'use strict';

(async () => {
  const { api, el, diffNode, fmtTime, postTitle } = LW;
  const m = /^\/blogs\/([^/]+)\/posts\/(.+)$/.exec(location.pathname);
  const err = document.getElementById('post-error');
  if (!m) {
    err.textContent = 'not a post address';
    return;
  }
  const slug = decodeURIComponent(m[1]);
  const id = decodeURIComponent(m[2]);
  const path = '/api/blogs/' + encodeURIComponent(slug) + '/posts/' + encodeURIComponent(id);
  let h;
  try {
    h = await api('GET', path);
  } catch (e) {
    document.getElementById('post-title').textContent = 'Post not found';
    err.textContent = e.message;
    return;
  }
  render(h);
  // A new revision of this post appears without a reload.
  let last = null;
  LW.follow(() => last, async (ev) => {
    last = ev.id;
    if (ev.post && ev.post.id === id && ev.blog.url === h.blog.url) {
      try {
        h = await api('GET', path);
        render(h);
      } catch (e) {
        err.textContent = e.message;
      }
    }
  }, () => {});

  function render(h) {
    const title = postTitle(h.post);
    document.title = title + ' · livewatch';
    document.getElementById('post-title').textContent = title;
    document.getElementById('crumb').replaceChildren(el('a', { href: h.blog.url, text: h.blog.title || h.blog.url }), ' › post ', el('code', { text: id }));
    document.getElementById('post-meta').textContent =
      h.revisions.length + (h.revisions.length === 1 ? ' revision' : ' revisions') + ' · first seen ' + fmtTime(h.first_seen_at) + ' · last changed ' + fmtTime(h.changed_at);
    document.getElementById('post-removed').hidden = !h.removed;

    function body(p, notes) {
      const box = el('div', { class: 'post-body' });
      if (p.headline) box.append(el('h4', { text: p.headline }));
      if (p.byline) box.append(el('p', { class: 'muted small', text: 'by ' + p.byline }));
      for (const para of (p.body || '').split(/\n\s*\n|\n/)) {
        if (!para.trim()) continue;
        const isNote = notes.includes(para.trim());
        box.append(isNote ? el('p', {}, el('mark', { class: 'correction-note', text: para })) : el('p', { text: para }));
      }
      for (const c of p.captions || []) box.append(el('p', { class: 'caption', text: c }));
      if (p.url) box.append(el('p', { class: 'small' }, el('a', { href: p.url, text: 'permalink' })));
      return box;
    }

    const list = document.getElementById('revisions');
    list.replaceChildren();
    for (const r of [...h.revisions].reverse()) {
      const label = { new: 'First seen', edit: 'Edited', correction: 'Correction' }[r.kind] || r.kind;
      const li = el('li', { class: 'revision kind-' + r.kind, 'data-revision': r.revision },
        el('div', { class: 'meta' },
          el('span', { class: 'badge badge-' + r.kind, text: label }), ' ',
          el('strong', { text: 'version ' + (r.revision + 1) }), ' ',
          el('time', { datetime: r.seen_at, text: fmtTime(r.seen_at) })));
      if (r.diff) li.append(el('p', { class: 'diff-line' }, diffNode(r.diff)));
      for (const n of r.corrections_added || []) li.append(el('p', { class: 'correction-added' }, el('mark', { class: 'correction-note', text: 'Correction note: ' + n })));
      li.append(body(r.post, r.correction_notes || []));
      list.append(li);
    }
  }
})();

'use strict';
/* The moderation page, /moderate/{poll_id}: the answers of an open-text poll as they arrive
   (read every second with the admin key, which the page keeps for the tab only), a Hide
   button each (Show for hidden ones; Approve for those waiting on a pre-moderated poll). */

(() => {
  const $ = (id) => document.getElementById(id);
  const pollId = document.body.dataset.pollId;
  const KEY = 'pollcast.admin-key';
  const STATUS_TEXT = {
    visible: 'Shown',
    pending: 'Waiting for approval',
    hidden_by_admin: 'Hidden by a moderator',
    hidden_by_filter: 'Hidden by the profanity filter',
  };
  let key = null;
  let timer = null;

  const say = (text, kind = 'info') => {
    $('status').textContent = text;
    $('status').dataset.kind = kind;
  };

  async function call(method, path) {
    const response = await fetch(`/v1/polls/${encodeURIComponent(pollId)}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}` },
      cache: 'no-store',
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw Object.assign(new Error((body && body.message) || `HTTP ${response.status}`), { status: response.status });
    return body;
  }

  function button(text, label, action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const entry = await call('POST', `/entries/${encodeURIComponent(action.id)}/${action.verb}`);
        say(`“${entry.text}”: ${STATUS_TEXT[entry.status].toLowerCase()}.`, 'ok');
        await refresh();
      } catch (error) {
        say(`Not done: ${error.message}`, 'error');
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  function draw(entries) {
    const list = $('moderation');
    const ids = new Set(entries.map((e) => e.id));
    for (const item of [...list.children]) if (!ids.has(item.dataset.id)) item.remove();
    for (const entry of entries) {
      let item = list.querySelector(`li[data-id="${CSS.escape(entry.id)}"]`);
      if (!item) {
        item = document.createElement('li');
        item.dataset.id = entry.id;
        const text = document.createElement('span');
        text.className = 'entry-text';
        const status = document.createElement('span');
        status.className = 'entry-status';
        const actions = document.createElement('span');
        actions.className = 'entry-actions';
        item.append(text, status, actions);
        list.prepend(item); // newest first
      }
      if (item.dataset.status === entry.status) continue;
      item.dataset.status = entry.status;
      item.dataset.hidden = String(entry.hidden);
      item.querySelector('.entry-text').textContent = entry.text;
      item.querySelector('.entry-status').textContent = STATUS_TEXT[entry.status];
      const actions = item.querySelector('.entry-actions');
      actions.replaceChildren();
      if (entry.status === 'pending') actions.append(button('Approve', `Approve: ${entry.text}`, { id: entry.id, verb: 'unhide' }));
      if (entry.hidden) {
        if (entry.status !== 'pending') actions.append(button('Show', `Show: ${entry.text}`, { id: entry.id, verb: 'unhide' }));
        if (entry.status === 'pending') actions.append(button('Hide', `Hide: ${entry.text}`, { id: entry.id, verb: 'hide' }));
      } else {
        actions.append(button('Hide', `Hide: ${entry.text}`, { id: entry.id, verb: 'hide' }));
      }
    }
  }

  async function refresh() {
    const body = await call('GET', '/entries');
    $('answers').hidden = false;
    const hidden = body.entries.filter((e) => e.hidden).length;
    $('summary').textContent = `${body.entries.length} answers from ${body.ballots} voters; ${hidden} not shown.`;
    draw(body.entries);
  }

  async function loop() {
    try {
      await refresh();
    } catch (error) {
      if (error.status === 401) {
        sessionStorage.removeItem(KEY);
        key = null;
        $('answers').hidden = true;
        say('The admin key is wrong.', 'error');
        return;
      }
      say(`Cannot read the answers: ${error.message}`, 'error');
    }
    timer = setTimeout(loop, 1000);
  }

  function start(value) {
    key = value;
    try {
      sessionStorage.setItem(KEY, key);
    } catch {
      /* kept for the page only */
    }
    clearTimeout(timer);
    loop();
  }

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    start($('admin-key').value);
  });
  const saved = (() => {
    try {
      return sessionStorage.getItem(KEY);
    } catch {
      return null;
    }
  })();
  if (saved) start(saved);
})();

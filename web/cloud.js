'use strict';
/* The presenter's view of an open-text poll: a word cloud and a list of the answers.

   The cloud never jumps: each word gets a cell of a grid the first time it is given, and keeps
   it; as counts change only its size changes (five steps, relative to the most given word),
   and a word that leaves (its answers hidden by a moderator) leaves an empty cell behind
   rather than moving the others. The list keeps answers in the order they first appeared;
   hidden ones leave it at once. */

const pollcastCloud = (() => {
  /** Draws `words` ([{word, count}]) into the list `cloud`. */
  function drawCloud(cloud, words) {
    const top = Math.max(1, ...words.map((w) => w.count));
    const current = new Map(words.map((w) => [w.word, w.count]));
    for (const { word } of words) {
      if (cloud.querySelector(`li[data-word="${CSS.escape(word)}"]`)) continue;
      const cell = document.createElement('li');
      cell.className = 'cloud-word';
      cell.dataset.word = word;
      const text = document.createElement('span');
      text.textContent = word;
      cell.append(text);
      cloud.append(cell);
    }
    for (const cell of cloud.children) {
      const count = current.get(cell.dataset.word);
      cell.classList.toggle('gone', count === undefined);
      cell.setAttribute('aria-hidden', String(count === undefined));
      if (count === undefined) continue;
      cell.dataset.level = String(1 + Math.round((4 * (count - 1)) / Math.max(1, top - 1)));
      cell.title = `${cell.dataset.word}: ${count}`;
      cell.setAttribute('aria-label', `${cell.dataset.word}, ${count === 1 ? 'once' : `${count} times`}`);
    }
  }

  /** Draws `entries` ([{id, text}]) into the list `list`, new ones last, gone ones removed. */
  function drawList(list, entries) {
    const ids = new Set(entries.map((e) => e.id));
    for (const item of [...list.children]) if (!ids.has(item.dataset.id)) item.remove();
    for (const entry of entries) {
      if (list.querySelector(`li[data-id="${CSS.escape(entry.id)}"]`)) continue;
      const item = document.createElement('li');
      item.dataset.id = entry.id;
      item.textContent = entry.text;
      list.append(item);
    }
  }

  /** Wires the "Word cloud" / "List" buttons; returns a function that draws results. */
  function mount(ui) {
    ui.views.hidden = false;
    ui.bars.hidden = true;
    const show = (list) => {
      ui.cloud.hidden = list;
      ui.entries.hidden = !list;
      ui.showCloud.setAttribute('aria-pressed', String(!list));
      ui.showList.setAttribute('aria-pressed', String(list));
    };
    ui.showCloud.addEventListener('click', () => show(false));
    ui.showList.addEventListener('click', () => show(true));
    show(false);
    return (results) => {
      const text = results.open_text || { words: [], entries: [] };
      drawCloud(ui.cloud, text.words);
      drawList(ui.entries, text.entries);
    };
  }

  return { mount, drawCloud, drawList };
})();

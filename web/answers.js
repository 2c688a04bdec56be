'use strict';
/* The ballots of the kinds beyond choice, for the voter page: a rating (a scale of large
   buttons, radio buttons underneath, so keyboards and screen readers know them) and open text
   (a text box per entry with a live character count). Each answer is what the vote message
   carries: {value} or {texts}; choices stay with voter.js. */

const pollcastAnswers = (() => {
  /** Text as the server normalises an entry: invisible characters dropped, NFC, trimmed. */
  const normalise = (text) => text.replace(/[\u200B\u2060\uFEFF\u00AD]/g, '').normalize('NFC').trim();

  function scaleValues(poll) {
    const values = [];
    for (let v = poll.scale.min; v <= poll.scale.max; v += 1) values.push(v);
    return values;
  }

  /** What a value means, for people: "5 (Great)" at the ends when the scale names them. */
  function valueLabel(poll, value) {
    const { min, max, min_label: low, max_label: high } = poll.scale;
    if (value === min && low) return `${value} (${low})`;
    if (value === max && high) return `${value} (${high})`;
    return String(value);
  }

  function buildRating(poll, ui) {
    ui.instructions.textContent = 'Choose a value';
    const { min_label: low, max_label: high } = poll.scale;
    ui.hint.textContent = low || high ? `${poll.scale.min} is ${low || 'lowest'}, ${poll.scale.max} is ${high || 'highest'}.` : '';
    const row = document.createElement('div');
    row.className = 'scale';
    for (const value of scaleValues(poll)) {
      const label = document.createElement('label');
      label.className = 'scale-step';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'value';
      input.value = String(value);
      const text = document.createElement('span');
      text.textContent = String(value);
      label.append(input, text);
      row.append(label);
    }
    ui.choices.append(row);
    if (low || high) {
      const ends = document.createElement('p');
      ends.className = 'scale-ends';
      ends.setAttribute('aria-hidden', 'true');
      const left = document.createElement('span');
      left.textContent = low || '';
      const right = document.createElement('span');
      right.textContent = high || '';
      ends.append(left, right);
      ui.choices.append(ends);
    }
    return {
      read() {
        const checked = ui.choices.querySelector('input:checked');
        return checked ? { value: Number(checked.value) } : { error: 'Choose a value first.' };
      },
      preset(answer) {
        if (!answer || answer.value === undefined) return;
        for (const input of ui.choices.querySelectorAll('input')) input.checked = Number(input.value) === answer.value;
      },
    };
  }

  function buildTexts(poll, ui) {
    const many = poll.max_entries > 1;
    ui.instructions.textContent = many ? `Your answer (up to ${poll.max_entries})` : 'Your answer';
    ui.hint.textContent = poll.moderation === 'pre' ? 'Answers are shown once a moderator approves them.' : '';
    const fields = [];
    for (let i = 0; i < poll.max_entries; i += 1) {
      const wrap = document.createElement('div');
      wrap.className = 'entry';
      const id = `entry-${i}`;
      const label = document.createElement('label');
      label.htmlFor = id;
      label.textContent = many ? `Answer ${i + 1}${i > 0 ? ' (optional)' : ''}` : 'Answer';
      const input = document.createElement('input');
      input.type = 'text';
      input.id = id;
      input.maxLength = poll.max_length;
      input.autocomplete = 'off';
      input.setAttribute('enterkeyhint', 'send');
      const count = document.createElement('span');
      count.className = 'char-count';
      count.id = `${id}-count`;
      input.setAttribute('aria-describedby', count.id);
      const update = () => {
        const used = [...normalise(input.value)].length;
        count.textContent = `${used} / ${poll.max_length}`;
        count.dataset.full = String(used >= poll.max_length);
      };
      input.addEventListener('input', update);
      update();
      wrap.append(label, input, count);
      ui.choices.append(wrap);
      fields.push(input);
    }
    return {
      read() {
        const texts = fields.map((f) => normalise(f.value)).filter((t) => t.length > 0);
        return texts.length ? { texts } : { error: 'Write an answer first.' };
      },
      preset(answer) {
        if (!answer || !answer.texts) return;
        fields.forEach((field, i) => {
          field.value = answer.texts[i] || '';
          field.dispatchEvent(new Event('input'));
        });
      },
    };
  }

  /** Builds the ballot of a rating or open-text poll into `ui.choices`; null for other kinds. */
  function build(poll, ui) {
    if (poll.kind === 'rating') return buildRating(poll, ui);
    if (poll.kind === 'open_text') return buildTexts(poll, ui);
    return null;
  }

  /** The answer that counts in a ballot status ({choices}, {value} or {texts}), or null. */
  function fromStatus(status) {
    const ballot = status.ballot || {};
    if (ballot.state !== 'counted') return null;
    if (ballot.value !== undefined && ballot.value !== null) return { value: ballot.value };
    if (ballot.texts) return { texts: ballot.texts };
    if (ballot.choices) return { choices: ballot.choices };
    return null;
  }

  /** Whether `a` and `b` are the same answer (`multi` choices compared as sets). */
  function same(poll, a, b) {
    if (!a || !b) return false;
    if (poll.kind === 'rating') return a.value === b.value;
    const x = a.texts || a.choices;
    const y = b.texts || b.choices;
    if (!x || !y || x.length !== y.length) return false;
    const sort = (v) => (poll.kind === 'multi' ? [...v].sort() : v);
    const [p, q] = [sort(x), sort(y)];
    return p.every((v, i) => v === q[i]);
  }

  /** The answer in words (choices are voter.js's to describe). */
  function describe(poll, answer) {
    if (answer.value !== undefined) return valueLabel(poll, answer.value);
    if (answer.texts) return answer.texts.map((t) => `“${t}”`).join(', ');
    return null;
  }

  return { build, fromStatus, same, describe, valueLabel, normalise };
})();

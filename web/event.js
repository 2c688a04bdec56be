'use strict';
/* An event's pages (/j/{code} for phones, /present/event/{id} for the projector) follow the
   presenter: the event's stream says which poll is active, and when it is not the one this
   page shows, the page loads again under the same address and shows the new one (or "waiting
   for the next question"). Pages of a single poll have no event and do nothing here. */

(() => {
  const eventId = document.body.dataset.eventId;
  if (!eventId) return;
  const shown = document.body.dataset.pollId || null;
  let failures = 0;
  const open = () => {
    const source = new EventSource(`/v1/events/${encodeURIComponent(eventId)}/stream`);
    source.addEventListener('active', (event) => {
      failures = 0;
      let joined;
      try {
        joined = JSON.parse(event.data);
      } catch {
        return;
      }
      if ((joined.active_poll_id || null) !== shown) {
        source.close();
        window.location.reload();
      }
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(open, Math.min(500 * 2 ** failures, 8000));
        failures += 1;
      }
    });
  };
  open();
})();

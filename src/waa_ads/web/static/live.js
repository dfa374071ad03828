// @ts-check
// The attempt's live channel: the candidate WebSocket (`/api/v1/attempts/{id}/ws`), on
// which the server tells the player, unasked, that the attempt's state or time changed (a
// proctor's pause, resume, extension or termination). The player then re-reads the
// attempt, so the pause screen, the clock and the end follow within a second, on whichever
// server process the proctor acted. Without the socket (blocked, offline) nothing breaks:
// the player still re-reads every minute, every 5 s while paused, and on every refused save.

/** @typedef {{type?: string, event?: string}} News */

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

/** @type {{socket: WebSocket | null, attemptId: string | null, retry: number, timer: number | undefined, onNews: () => Promise<void>}} */
const channel = { socket: null, attemptId: null, retry: RETRY_MIN_MS, timer: undefined, onNews: async () => {} };

/** @type {{running: boolean, again: boolean}} */
const reading = { running: false, again: false };

/** Run `onNews`, one at a time: news arriving meanwhile gives one more run after it. */
async function heard() {
  if (reading.running) { reading.again = true; return; }
  reading.running = true;
  try {
    do {
      reading.again = false;
      await channel.onNews();
    } while (reading.again);
  } finally {
    reading.running = false;
  }
}

/**
 * Listen to the attempt's news until {@link stopFollowing}; `onNews` runs on each change
 * (and after a reconnection, for what may have been missed meanwhile).
 * @param {string} attemptId
 * @param {string} credential
 * @param {() => Promise<void>} onNews
 */
export function followAttempt(attemptId, credential, onNews) {
  channel.onNews = onNews;
  if (channel.attemptId === attemptId && channel.socket) return;
  stopFollowing();
  channel.attemptId = attemptId;
  open(attemptId, credential, false);
}

/** Stop listening (the test ended, or another attempt is opened). */
export function stopFollowing() {
  channel.attemptId = null;
  clearTimeout(channel.timer);
  const socket = channel.socket;
  channel.socket = null;
  if (socket) socket.close(1000);
}

/**
 * @param {string} attemptId
 * @param {string} credential
 * @param {boolean} again  a reconnection: news may have been missed
 */
function open(attemptId, credential, again) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}/api/v1/attempts/${encodeURIComponent(attemptId)}/ws?token=${encodeURIComponent(credential)}`;
  let socket;
  try { socket = new WebSocket(url); } catch { return; }
  channel.socket = socket;
  socket.addEventListener("open", () => {
    channel.retry = RETRY_MIN_MS;
    if (again) void heard();
  });
  socket.addEventListener("message", (event) => {
    /** @type {News} */
    let news;
    try { news = JSON.parse(String(event.data)); } catch { return; }
    if (news.type === "attempt") void heard();
  });
  socket.addEventListener("close", (event) => {
    if (channel.socket !== socket) return; // replaced or stopped
    channel.socket = null;
    // 4404: the credential is not (or no longer) valid; the next read of the attempt says so.
    if (event.code === 4404 || channel.attemptId !== attemptId) return;
    channel.timer = window.setTimeout(() => {
      if (channel.attemptId === attemptId) open(attemptId, credential, true);
    }, channel.retry);
    channel.retry = Math.min(channel.retry * 2, RETRY_MAX_MS);
  });
}

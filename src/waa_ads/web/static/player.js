// @ts-check
// The candidate's player, started here: wires every control once, then resumes the
// attempt this tab is signed in to or shows the access screen. Talks to the candidate API
// only (docs/candidate-api.md); docs/player.md describes what each module does.
//
// Item HTML comes from the server already sanitized and is inserted as HTML; everything
// else shown here (what the candidate typed, messages from the server) is set as text.

import { showAccess, wireAccess } from "./access.js";
import { next, openAttempt, refresh, timeUp, watchNetwork } from "./attempt.js";
import { wireBreaks } from "./breaks.js";
import { wireTerms } from "./catalog.js";
import { wireFinish } from "./finish.js";
import { watchIntegrity } from "./integrity.js";
import { commitText, wireItem } from "./item.js";
import { wireLanguage } from "./language.js";
import { flushPosition, wireNavigation } from "./navigation.js";
import { $, readSession, state } from "./store.js";
import { setClockHooks } from "./timer.js";

function wire() {
  wireAccess(openAttempt);
  wireItem();
  wireNavigation();
  $("next-button").addEventListener("click", next);
  wireFinish();
  wireBreaks({ reopen: openAttempt, refresh });
  wireLanguage();
  wireTerms();
  setClockHooks({ onTimeUp: timeUp, onResync: refresh });
  window.addEventListener("pagehide", () => { commitText(); flushPosition(); state.events?.flush(); });
  // Integrity first: going offline is recorded before the save queue hears of it.
  watchIntegrity();
  watchNetwork();
}

wire();
state.session = readSession();
if (state.session) openAttempt();
else showAccess();

// acts.js — acknowledge, unacknowledge, clear and suppress, on one alert or
// many, and the two dialogs that ask "until when".
//
// One alert goes to POST /api/alerts/SOURCE/ID/ACT, several to POST
// /api/actions (1,000 at most a request, so a larger selection is sent in
// parts). `by` is never ours to say: lilac-web records the logged-in user.
// An "until" is a time spec lilac-web takes as it is ("+1h"), or epoch
// seconds for the times the browser works out in its own zone ("09:00
// tomorrow", a custom date and time). Every outcome lands in #message.

import { api } from './api.js';
import { alertApi } from './dom.js';

const BATCH = 1000;
const PAST_TENSE = { ack: 'acknowledged', unack: 'unacknowledged', clear: 'cleared',
                     suppress: 'suppressed' };

export function say (text, failed = false) {
    const message = document.getElementById ('message');
    message.textContent = text;
    message.classList.toggle ('failed', failed);
}

// targets: [{source, id}]. Resolves to true when every one was done.
export async function act (kind, targets, options = {}) {
    try {
        if (targets.length === 1) {
            await api ('POST', alertApi (targets [0].source, targets [0].id) + '/' + kind, options);
            say (`${PAST_TENSE [kind]} ${targets [0].source} ${targets [0].id}`);
            return true;
        }
        let done = 0;
        const failed = [];
        for (let first = 0; first < targets.length; first += BATCH) {
            const alerts = targets.slice (first, first + BATCH)
                                  .map (({ source, id }) => ({ source, id }));
            const reply = await api ('POST', '/api/actions', { act: kind, alerts, ...options });
            done += reply.done;
            failed.push (...reply.failed);
        }
        const first = failed [0];
        say (`${PAST_TENSE [kind]} ${done} of ${targets.length}`
             + (first ? `; ${failed.length} failed: ${first.source} ${first.id}: ${first.error}` : ''),
             failed.length > 0);
        return failed.length === 0;
    } catch (failure) {
        say (`${kind} failed: ${failure.message}`, true);
        return false;
    }
}

// 09:00 tomorrow in the browser's zone, as epoch seconds.
function tomorrowNine () {
    const now = new Date ();
    return Math.floor (new Date (now.getFullYear (), now.getMonth (), now.getDate () + 1, 9, 0, 0)
                       .getTime () / 1000);
}

// The chosen until: a time spec, epoch seconds, undefined (no end), or an
// Error naming what is wrong with a custom time.
function untilOf (choice, custom) {
    switch (choice) {
    case 'none':
        return undefined;
    case 'tomorrow':
        return tomorrowNine ();
    case 'custom': {
        const at = new Date (custom.value).getTime ();       //  local time
        if (!custom.value || !Number.isFinite (at))
            return new Error ('choose a date and time');
        if (at <= Date.now ())
            return new Error ('that time has passed');
        return Math.floor (at / 1000);
    }
    default:
        return choice;                                       //  "+1h", "now"
    }
}

// Opens dialog NAME (ack or suppress) for targets; acts on confirm.
export function askUntil (kind, targets, done = () => {}) {
    const dialog = document.getElementById (`${kind}-dialog`);
    const choice = document.getElementById (`${kind}-until`);
    const custom = document.getElementById (`${kind}-custom`);
    const note = document.getElementById (`${kind}-note`);
    const error = dialog.querySelector ('.dialog-error');
    dialog.querySelector ('.dialog-what').textContent = targets.length === 1
        ? `${targets [0].source} ${targets [0].id}` : `${targets.length} alerts`;
    error.textContent = '';
    if (note)
        note.value = '';
    custom.hidden = choice.value !== 'custom';
    choice.onchange = () => { custom.hidden = choice.value !== 'custom'; };
    dialog.querySelector ('form').onsubmit = async event => {
        event.preventDefault ();
        const until = untilOf (choice.value, custom);
        if (until instanceof Error) {
            error.textContent = until.message;
            return;
        }
        const options = {};
        if (until !== undefined)
            options.until = until;
        if (note?.value)
            options.note = note.value;
        dialog.close ();
        done (await act (kind, targets, options));
    };
    document.getElementById (`${kind}-cancel`).onclick = () => dialog.close ();
    dialog.showModal ();
}

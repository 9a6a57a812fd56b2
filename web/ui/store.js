// store.js — the page's copy of every alert and silence, kept live.
//
// The list comes from GET /api/alerts with the position it is consistent
// with (epoch number and seq); the stream then starts exactly there
// (?since=N:SEQ), so nothing between the two is missed. EventSource itself
// reconnects after a network error with Last-Event-ID, the last change we
// applied; when lilac-web answers a reconnection with an error (it is
// restarting and not synced yet) EventSource gives up, and we start a new
// one from that same id after a pause. A `reset` (a new epoch, or a resume
// point lilac-web no longer keeps) reloads everything. While the stream is
// down the banner says so: the page never shows old data as if it were live.
//
// Views subscribe with onChange (kind, key): kind 'alert' (key its
// "source\0id"), 'silence' (key its id), 'reload' (everything), 'live'.

import { api, login } from './api.js';
import { alertKey } from './dom.js';

const RETRY_MS = 2000;
const listeners = new Set ();

export const store = {
    alerts: new Map (),          // "source\0id" → alert, as /api/alerts lists it
    silences: new Map (),        // id → silence, as /api/silences lists it
    silencesLoaded: false,
    changedAt: new Map (),       // key → when it last changed live (for the mark)
    live: false,
    lastId: null,                // "N:SEQ" of the last change applied
};

let stream = null;
let retry = null;

export function onChange (listener) {
    listeners.add (listener);
    return () => listeners.delete (listener);
}

function emit (kind, key) {
    for (const listener of listeners)
        listener (kind, key);
}

function setLive (live) {
    store.live = live;
    document.body.dataset.live = live ? 'yes' : 'no';
    document.getElementById ('banner').hidden = live;
    emit ('live');
}

export async function loadAlerts () {
    const list = await api ('GET', '/api/alerts');
    store.alerts.clear ();
    for (const alert of list.alerts)
        store.alerts.set (alertKey (alert), alert);
    store.lastId = `${list.epoch.n}:${list.seq}`;
    if (store.silencesLoaded)
        await loadSilences ();
    emit ('reload');
    follow ();
}

export async function loadSilences () {
    const list = await api ('GET', '/api/silences');
    store.silences.clear ();
    for (const silence of list.silences)
        store.silences.set (silence.id, silence);
    store.silencesLoaded = true;
    emit ('silence');
}

function applyChange (event) {
    store.lastId = event.lastEventId || store.lastId;
    const change = JSON.parse (event.data);
    const key = alertKey (change.alert);
    if (change.event === 'deleted') {
        store.alerts.delete (key);
        store.changedAt.delete (key);
    } else {
        store.alerts.set (key, change.alert);
        store.changedAt.set (key, Date.now ());
    }
    emit ('alert', key);
}

function applySilence (event) {
    store.lastId = event.lastEventId || store.lastId;
    const silence = JSON.parse (event.data);
    store.silences.set (silence.id, silence);
    emit ('silence', silence.id);
}

function follow () {
    clearTimeout (retry);
    stream?.close ();
    stream = new EventSource ('/api/stream?since=' + encodeURIComponent (store.lastId));
    stream.onopen = () => setLive (true);
    stream.onerror = () => {
        setLive (false);
        if (stream.readyState === EventSource.CLOSED)
            retry = setTimeout (resume, RETRY_MS);
    };
    stream.addEventListener ('change', applyChange);
    stream.addEventListener ('silence', applySilence);
    stream.addEventListener ('reset', () => {
        stream.close ();
        reload ();
    });
}

// A page left for another lets go of its stream at once (Chrome keeps six
// connections to one server: six pages in the back/forward cache holding
// theirs would leave none for the next page), and takes it up again from
// where it was when it is shown again.
window.addEventListener ('pagehide', () => {
    clearTimeout (retry);
    stream?.close ();
    stream = null;
});
window.addEventListener ('pageshow', event => {
    if (event.persisted && store.lastId)
        follow ();
});

// lilac-web refused the stream: restarting (503 until it is synced), or
// the session ended (401), which EventSource does not tell apart.
async function resume () {
    try {
        await api ('GET', '/api/session');
    } catch (failure) {
        if (failure.status === 401)
            return login ();
    }
    follow ();
}

// A reload that fails (lilac-web away) is tried again until it works.
async function reload () {
    try {
        await loadAlerts ();
    } catch {
        setLive (false);
        retry = setTimeout (reload, RETRY_MS);
    }
}

// alert.js — one alert's page, /alerts/SOURCE/ID: every field, the detail,
// the labels, the history timeline and the acts.
//
// The alert itself comes from the store (live); one the store does not
// hold (deleted by retention) is asked of lilac-web, which answers 404.
// The history is the broker's, newest first, 50 a page; it is read again
// when the alert changes, so the timeline follows the fields. The broker's
// changes carry the alert as it was after each one, so the timeline also
// shows when a silence began or stopped covering it, by comparing each
// change's silenced_by with the one before. The detail is shown as text in
// a <pre>: it is whatever a sender wrote.

import { act, askUntil, say } from './acts.js';
import { api } from './api.js';
import { h, alertApi, relative, local, when } from './dom.js';
import { setTitle, stateText } from './list.js';
import { store, onChange } from './store.js';

const HISTORY_PAGE = 50;
const TIMES = ['raise_at', 'ack_until', 'suppress_until', 'clear_at', 'created_at',
               'updated_at', 'changed_at', 'acked_at', 'notified_at'];
const FIELDS = ['source', 'id', 'subject', 'summary', 'level', 'state', 'raise_at', 'acked_by',
                'acked_at', 'ack_until', 'ack_note', 'notify_count', 'notified_at',
                'suppress_until', 'clear_at', 'silenced_by', 'created_at', 'updated_at',
                'changed_at'];
const NAMES = { raise_at: 'raises / raised', acked_by: 'acknowledged by', acked_at: 'acknowledged',
                ack_until: 'acknowledged until', ack_note: 'note', notify_count: 'notified',
                notified_at: 'last notified', suppress_until: 'suppressed until',
                clear_at: 'clears at', silenced_by: 'silenced by', created_at: 'first seen',
                updated_at: 'last event', changed_at: 'last change' };

let page = null;                 //  { source, id, key, session, changes, more }

export function alertShow (session, navigate, source, id) {
    const section = document.getElementById ('alert-page');
    page = { source, id, key: source + '\0' + id, session, navigate, changes: [], more: false,
             reading: null };
    section.hidden = false;
    section.replaceChildren (h ('p', {}, 'Loading…'));
    show ();
    readHistory ();
}

export function alertHide () {
    page = null;
    document.getElementById ('alert-page').hidden = true;
}

onChange ((kind, key) => {
    if (!page || !(kind === 'reload' || (kind === 'alert' && key === page.key)))
        return;
    show ();
    readHistory ();
});

async function show () {
    let alert = store.alerts.get (page.key);
    const section = document.getElementById ('alert-page');
    if (!alert) {
        const wanted = page;
        try {
            alert = (await api ('GET', alertApi (page.source, page.id))).alert;
        } catch (failure) {
            if (wanted === page)
                section.replaceChildren (
                    h ('h2', { id: 'alert-title' }, `${page.source} ${page.id}`),
                    h ('p', { class: 'failed' }, failure.status === 404
                       ? 'lilac has no such alert (cleared long ago, or never sent).'
                       : failure.message),
                    h ('p', {}, h ('a', { href: '/' }, 'Back to the list')));
            return;
        }
        if (wanted !== page)
            return;
    }
    setTitle (`${alert.source} ${alert.id} · lilac`);
    section.replaceChildren (
        h ('p', { class: 'back' }, h ('a', { href: '/' }, '← all alerts')),
        h ('h2', { id: 'alert-title', class: 'state-' + alert.state },
           h ('span', { class: 'badge' }, stateText (alert)), ' ',
           alert.source, ' ', h ('span', { class: 'alert-id' }, alert.id)),
        alert.summary ? h ('p', { class: 'summary' }, alert.summary) : null,
        page.session.canAct ? actions (alert) : null,
        h ('dl', { id: 'alert-fields' }, FIELDS.flatMap (name => field (alert, name))),
        h ('h3', {}, 'Detail'),
        alert.detail ? h ('pre', { id: 'alert-detail' }, alert.detail)
                     : h ('p', { id: 'alert-detail', class: 'none' }, 'No detail.'),
        h ('h3', {}, 'Labels'),
        h ('p', { id: 'alert-labels' },
           Object.keys (alert.labels ?? {}).length === 0 ? 'No labels.'
           : Object.entries (alert.labels).map (([name, value]) =>
               h ('button', { type: 'button', class: 'chip', dataset: { label: `${name}=${value}` },
                              title: `list the alerts with ${name}=${value}`,
                              onclick: () => page.navigate ('/?label='
                                                            + encodeURIComponent (`${name}=${value}`)) },
                  `${name}=${value}`))),
        h ('h3', {}, 'History'),
        h ('ol', { id: 'timeline' }, items (page.changes)),
        h ('p', {}, h ('button', { type: 'button', id: 'timeline-more', hidden: !page.more,
                                   onclick: () => readHistory (true) }, 'Older changes')));
}

function field (alert, name) {
    const value = alert [name];
    if (value == null || value === '' || (TIMES.includes (name) && !value))
        return [];
    let shown = String (value);
    if (TIMES.includes (name))
        shown = when (value, `${local (value)} (${relative (value)})`);
    else if (name === 'silenced_by')
        shown = h ('a', { href: '/silences' }, value);
    return [h ('dt', {}, NAMES [name] ?? name), h ('dd', { dataset: { field: name } }, shown)];
}

function actions (alert) {
    const target = [alert];
    const labels = Object.entries (alert.labels ?? {})
        .map (([name, value]) => 'label=' + encodeURIComponent (`${name}=${value}`));
    const like = '/silences?' + ['source=' + encodeURIComponent (alert.source),
                                 'id=' + encodeURIComponent (alert.id), ...labels].join ('&');
    return h ('p', { class: 'actions', role: 'group', 'aria-label': 'Act on this alert' },
        h ('button', { type: 'button', id: 'act-ack', disabled: alert.state === 'cleared',
                       onclick: () => askUntil ('ack', target) }, 'Acknowledge…'),
        h ('button', { type: 'button', id: 'act-unack', disabled: alert.state !== 'acked',
                       onclick: () => act ('unack', target) }, 'Unacknowledge'),
        h ('button', { type: 'button', id: 'act-clear', disabled: alert.state === 'cleared',
                       onclick: () => act ('clear', target) }, 'Clear'),
        h ('button', { type: 'button', id: 'act-suppress',
                       onclick: () => askUntil ('suppress', target) }, 'Suppress…'),
        h ('a', { id: 'act-silence', class: 'button', href: like }, 'Silence alerts like this…'));
}

// ---- the timeline ----

async function readHistory (older = false) {
    const wanted = page;
    const before = older && page.before ? `&before=${page.before}` : '';
    let reply;
    try {
        reply = await api ('GET', alertApi (page.source, page.id)
                           + `/history?limit=${HISTORY_PAGE}${before}`);
    } catch (failure) {
        if (wanted === page && failure.status !== 404)
            say (`history: ${failure.message}`, true);
        return;
    }
    if (wanted !== page)
        return;
    page.changes = older ? page.changes.concat (reply.changes) : reply.changes;
    page.more = reply.more;
    page.before = reply.before;
    const more = document.getElementById ('timeline-more');
    if (more)
        more.hidden = !page.more;
    document.getElementById ('timeline')?.replaceChildren (...items (page.changes));
}

// changes: newest first. Walks them oldest first to see silences begin.
function items (changes) {
    const list = [];
    let silencedBy = null;
    for (let index = changes.length - 1; index >= 0; index--) {
        const change = changes [index];
        const now = change.alert.silenced_by ?? null;
        list.push (item (change.at, change.event, describe (change)));
        if (now !== silencedBy && (index < changes.length - 1 || now))
            list.push (item (change.at, now ? 'silenced' : 'unsilenced',
                             now ? `silenced by ${now}` : `no longer silenced (${silencedBy})`));
        silencedBy = now;
    }
    return list.reverse ();
}

function describe (change) {
    const alert = change.alert;
    switch (change.event) {
    case 'raised':
        return `raised (${alert.level})` + (alert.summary ? `: ${alert.summary}` : '');
    case 'reminder':
        return `reminder, notified ${alert.notify_count} times`;
    case 'acked':
        return `acknowledged by ${alert.acked_by ?? 'someone'}`
            + (alert.ack_until ? ` until ${local (alert.ack_until)}` : '')
            + (alert.ack_note ? `: “${alert.ack_note}”` : '');
    case 'unacked':
        return 'acknowledgement dropped' + (alert.state === 'raised' ? ', raised again' : '');
    case 'cleared':
        return 'cleared';
    case 'pending':
        return alert.raise_at ? `pending: raises ${relative (alert.raise_at)} (${local (alert.raise_at)})`
                              : 'pending';
    case 'updated':
        return 'updated' + (alert.summary ? `: ${alert.summary}` : '');
    case 'deleted':
        return 'deleted (retention)';
    default:
        return change.event;
    }
}

function item (at, event, text) {
    return h ('li', { dataset: { event }, class: 'event-' + event },
              when (at, local (at)), ' ', h ('span', { class: 'what' }, text),
              h ('span', { class: 'ago' }, ` (${relative (at)})`));
}

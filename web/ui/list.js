// list.js — the alert list: overview, filters, grouping, selection, keys.
//
// What is shown is a function of the store and the filter (search text,
// label filters, grouping, cleared or not), and the filter lives in the
// URL (?q=&label=K=V&group=&cleared=1), so a view can be bookmarked or
// sent. Rendering is bounded whatever the number of alerts: at most
// `limit` rows (200, "show more" adds 200) are in the document, a row is
// rebuilt only when its alert's seq moved, and renders are spaced at least
// RENDER_GAP_MS apart, so 10,000 alerts and 100 changes a second cost one
// sort and a few hundred rows a tenth of a second. A row that changed live
// is marked for MARK_MS. Selection and the keyboard cursor are kept by
// alert key, so they survive renders.

import { act, askUntil } from './acts.js';
import { h, alertKey, alertPath, relative, span, utc, local } from './dom.js';
import { store, onChange } from './store.js';

const PAGE = 200;
const RENDER_GAP_MS = 100;
const MARK_MS = 2000;
const STATE_RANK = { raised: 0, acked: 1, pending: 2, cleared: 3 };
const LEVEL_RANK = { urgent: 0, normal: 1, low: 2 };
const STATES = ['raised', 'acked', 'pending', 'cleared'];
const LEVELS = ['urgent', 'normal', 'low'];

let view = null;                 //  the list's state while it is shown

export function listShow (session, navigate) {
    const page = document.getElementById ('list-page');
    if (!view)
        view = setUp (page, session, navigate);
    readFilter ();
    page.hidden = false;
    view.active = true;
    setTitle ('lilac');
    render ();
}

export function listHide () {
    if (view) {
        view.active = false;
        document.getElementById ('list-page').hidden = true;
    }
}

// The overview and the tab's title follow every change, whatever is shown.
export function overview () {
    const counts = Object.fromEntries (STATES.map (state => [state, 0]));
    const raisedByLevel = Object.fromEntries (LEVELS.map (level => [level, 0]));
    for (const alert of store.alerts.values ()) {
        counts [alert.state] = (counts [alert.state] ?? 0) + 1;
        if (alert.state === 'raised')
            raisedByLevel [alert.level] = (raisedByLevel [alert.level] ?? 0) + 1;
    }
    for (const state of STATES)
        document.getElementById ('count-' + state).textContent = counts [state];
    document.getElementById ('count-levels').textContent =
        LEVELS.map (level => `${raisedByLevel [level]} ${level}`).join (', ');
    raisedCount = counts.raised;
    setTitle ();
}

// The tab's title: the raised count first, as purppura's [r/a/p] was, then
// the view ("(3) lilac", "(3) web1 disk-space-/ · lilac").
let raisedCount = 0;
let viewTitle = 'lilac';

export function setTitle (title = viewTitle) {
    viewTitle = title;
    document.title = (raisedCount ? `(${raisedCount}) ` : '') + viewTitle;
}

function setUp (page, session, navigate) {
    const self = {
        active: false, session, navigate,
        filter: { q: '', labels: [], group: '', cleared: false },
        limit: PAGE, rows: new Map (), shown: [], selected: new Set (), cursor: null,
        timer: null, lastRender: 0,
        body: page.querySelector ('#alerts tbody'),
    };
    page.querySelector ('#toolbar').addEventListener ('submit', event => event.preventDefault ());
    const search = page.querySelector ('#search');
    search.addEventListener ('input', () => { self.filter.q = search.value; filterChanged (); });
    page.querySelector ('#group').addEventListener ('change', event => {
        self.filter.group = event.target.value;
        filterChanged ();
    });
    page.querySelector ('#show-cleared').addEventListener ('change', event => {
        self.filter.cleared = event.target.checked;
        filterChanged ();
    });
    page.querySelector ('#more').addEventListener ('click', () => { self.limit += PAGE; render (); });
    if (session.canAct)
        setUpBulk (self, page);
    else
        for (const element of page.querySelectorAll ('.pick, #bulk'))
            element.remove ();
    onChange (kind => {
        if (kind === 'alert' || kind === 'reload')
            schedule ();
    });
    document.addEventListener ('keydown', key);
    setInterval (tick, 1000);
    return self;
}

function setUpBulk (self, page) {
    page.querySelector ('#select-all').addEventListener ('change', event => {
        for (const alert of self.shown)
            if (event.target.checked)
                self.selected.add (alertKey (alert));
            else
                self.selected.delete (alertKey (alert));
        render ();
    });
    const targets = () => [...self.selected].map (key => store.alerts.get (key)).filter (Boolean);
    const after = ok => { if (ok) self.selected.clear (); render (); };
    page.querySelector ('#bulk-ack').addEventListener ('click', () => askUntil ('ack', targets (), after));
    page.querySelector ('#bulk-suppress').addEventListener ('click', () => askUntil ('suppress', targets (), after));
    page.querySelector ('#bulk-unack').addEventListener ('click', async () => after (await act ('unack', targets ())));
    page.querySelector ('#bulk-clear').addEventListener ('click', async () => after (await act ('clear', targets ())));
}

// ---- the filter and the URL ----

function readFilter () {
    const query = new URLSearchParams (location.search);
    view.filter = { q: query.get ('q') ?? '', labels: query.getAll ('label'),
                    group: query.get ('group') ?? '', cleared: query.get ('cleared') === '1' };
    document.getElementById ('search').value = view.filter.q;
    document.getElementById ('show-cleared').checked = view.filter.cleared;
}

function filterChanged () {
    const query = new URLSearchParams ();
    const { q, labels, group, cleared } = view.filter;
    if (q)
        query.set ('q', q);
    for (const label of labels)
        query.append ('label', label);
    if (group)
        query.set ('group', group);
    if (cleared)
        query.set ('cleared', '1');
    const search = query.toString ();
    history.replaceState (null, '', '/' + (search ? '?' + search : ''));
    view.limit = PAGE;
    render ();
}

function addLabelFilter (label) {
    if (!view.filter.labels.includes (label))
        view.filter.labels.push (label);
    filterChanged ();
}

function matches (alert, text, labels) {
    if (alert.state === 'cleared' && !view.filter.cleared)
        return false;
    for (const label of labels) {
        const at = label.indexOf ('=');                  //  "team=ops"; "team" alone: any value
        const value = alert.labels?.[at < 0 ? label : label.slice (0, at)];
        if (value === undefined || (at >= 0 && value !== label.slice (at + 1)))
            return false;
    }
    if (!text)
        return true;
    const fields = [alert.source, alert.id, alert.subject, alert.summary];
    for (const [name, value] of Object.entries (alert.labels ?? {}))
        fields.push (name + '=' + value);
    return fields.some (field => field && field.toLowerCase ().includes (text));
}

function compare (a, b) {
    return (STATE_RANK [a.state] - STATE_RANK [b.state])
        || ((LEVEL_RANK [a.level] ?? 3) - (LEVEL_RANK [b.level] ?? 3))
        || (a.state === 'pending' ? a.raise_at - b.raise_at : b.changed_at - a.changed_at)
        || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0)
        || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function groupOf (alert, group) {
    if (group.startsWith ('label:'))
        return alert.labels?.[group.slice (6)] ?? '(none)';
    return group === 'subject' ? (alert.subject ?? alert.source) : String (alert [group] ?? '');
}

// The alerts to show, in order; grouped, each group where its most
// pressing alert would be, as [{name, alerts}].
function arrange () {
    const text = view.filter.q.trim ().toLowerCase ();
    const shown = [];
    for (const alert of store.alerts.values ())
        if (matches (alert, text, view.filter.labels))
            shown.push (alert);
    shown.sort (compare);
    const group = view.filter.group;
    if (!group)
        return [{ name: null, alerts: shown }];
    const groups = new Map ();
    for (const alert of shown) {
        const name = groupOf (alert, group);
        if (!groups.has (name))
            groups.set (name, []);
        groups.get (name).push (alert);
    }
    return [...groups].map (([name, alerts]) => ({ name, alerts }));
}

// ---- rendering ----

function schedule () {
    if (!view?.active || view.timer)
        return;
    const wait = Math.max (0, RENDER_GAP_MS - (performance.now () - view.lastRender));
    view.timer = setTimeout (render, wait);
}

function render () {
    clearTimeout (view.timer);
    view.timer = null;
    if (!view.active)
        return;
    const started = performance.now ();
    const groups = arrange ();
    const nodes = [];
    const shown = [];
    const columns = view.session.canAct ? 12 : 11;
    for (const { name, alerts } of groups) {
        if (shown.length >= view.limit)
            break;
        if (name !== null)
            nodes.push (h ('tr', { class: 'group' },
                           h ('th', { colspan: columns, scope: 'rowgroup' },
                              `${name} (${alerts.length})`)));
        for (const alert of alerts.slice (0, view.limit - shown.length)) {
            shown.push (alert);
            nodes.push (row (alert));
        }
    }
    const total = groups.reduce ((sum, group) => sum + group.alerts.length, 0);
    view.body.replaceChildren (...nodes);
    view.shown = shown;
    forgetRows (shown);
    footer (shown.length, total);
    groupChoices ();
    filterChips ();
    selection ();
    view.lastRender = performance.now ();
    window.lilac.renders++;
    window.lilac.renderMs = Math.round (view.lastRender - started);
    if (!window.lilac.ready) {
        window.lilac.ready = true;
        window.lilac.loadMs = Math.round (view.lastRender);
    }
}

// A row is rebuilt only when its alert changed (or its selection did).
function row (alert) {
    const key = alertKey (alert);
    const selected = view.selected.has (key);
    let cached = view.rows.get (key);
    if (!cached || cached.alert !== alert || cached.selected !== selected) {
        cached = { alert, selected, tr: build (alert, key, selected) };
        view.rows.set (key, cached);
    }
    const cursor = view.cursor === key;
    cached.tr.classList.toggle ('cursor', cursor);
    cached.tr.setAttribute ('aria-selected', cursor ? 'true' : 'false');
    return cached.tr;
}

function forgetRows (shown) {
    if (view.rows.size < 4 * PAGE + shown.length)
        return;
    const keep = new Set (shown.map (alertKey));
    for (const key of view.rows.keys ())
        if (!keep.has (key))
            view.rows.delete (key);
}

function build (alert, key, selected) {
    const labels = Object.entries (alert.labels ?? {}).map (([name, value]) =>
        h ('button', { type: 'button', class: 'chip', dataset: { label: `${name}=${value}` },
                       title: `show only ${name}=${value}`,
                       onclick: () => addLabelFilter (`${name}=${value}`) },
           `${name}=${value}`));
    const tr = h ('tr', { class: 'alert', dataset: { source: alert.source, id: alert.id,
                                                      state: alert.state, level: alert.level } },
        view.session.canAct && h ('td', { class: 'pick' },
            h ('input', { type: 'checkbox', class: 'select', checked: selected,
                          'aria-label': `select ${alert.source} ${alert.id}`,
                          onchange: event => {
                              if (event.target.checked)
                                  view.selected.add (key);
                              else
                                  view.selected.delete (key);
                              selection ();
                          } })),
        h ('td', { class: 'state' }, stateText (alert)),
        h ('td', { class: 'level' }, alert.level),
        h ('td', { class: 'source' }, alert.source),
        h ('td', { class: 'id' }, h ('a', { class: 'open', href: alertPath (alert.source, alert.id) },
                                      alert.id)),
        h ('td', { class: 'subject' }, alert.subject ?? alert.source),
        h ('td', { class: 'summary' }, alert.summary ?? ''),
        age (alert),
        h ('td', { class: 'notify', title: 'times notified' }, alert.notify_count ?? 0),
        h ('td', { class: 'acked' }, ackedText (alert)),
        h ('td', { class: 'labels' }, labels));
    const changed = store.changedAt.get (key);
    if (changed && Date.now () - changed < MARK_MS) {
        tr.classList.add ('changed');
        setTimeout (() => tr.classList.remove ('changed'), MARK_MS - (Date.now () - changed));
    }
    return tr;
}

export function stateText (alert) {
    const notes = [alert.state];
    if (alert.silenced_by)
        notes.push ('silenced');
    if (alert.suppress_until > Date.now ())
        notes.push ('suppressed');
    return notes.join (' · ');
}

function ackedText (alert) {
    if (alert.state !== 'acked')
        return '';
    return (alert.acked_by ?? '') + (alert.ack_until ? ' until ' + local (alert.ack_until) : '');
}

// "raised 12 min ago", "raises in 3 min 12 s": its own cell, as the tick
// rewrites it every second.
function age (alert) {
    const td = h ('td', { class: 'age' });
    ageText (td, alert);
    return td;
}

function ageText (td, alert, now = Date.now ()) {
    let at = alert.changed_at;
    let text;
    if (alert.state === 'pending' && alert.raise_at > now) {
        at = alert.raise_at;
        text = 'raises in ' + span (at - now);
    } else if (alert.state === 'raised') {
        at = alert.raise_at || at;
        text = 'raised ' + relative (at, now);
    } else if (alert.state === 'acked') {
        at = alert.acked_at || at;
        text = 'acked ' + relative (at, now);
    } else {
        text = alert.state + ' ' + relative (at, now);
    }
    td.textContent = text;
    td.title = utc (at);
}

function tick () {
    if (!view?.active)
        return;
    const now = Date.now ();
    for (const tr of view.body.querySelectorAll ('tr.alert')) {
        const cached = view.rows.get (tr.dataset.source + '\0' + tr.dataset.id);
        if (cached)
            ageText (tr.querySelector ('td.age'), cached.alert, now);
    }
}

function footer (count, total) {
    const more = document.getElementById ('more');
    more.hidden = count >= total;
    const shown = count.toLocaleString (), all = total.toLocaleString ();
    more.textContent = `Show ${Math.min (PAGE, total - count)} more (${shown} of ${all} shown)`;
    document.getElementById ('shown-count').textContent =
        total === count ? `${all} shown` : `${shown} of ${all} shown`;
}

// The grouping choices: the fixed ones and every label name present.
function groupChoices () {
    const select = document.getElementById ('group');
    const names = new Set ();
    for (const alert of store.alerts.values ())
        for (const name of Object.keys (alert.labels ?? {}))
            if (names.size < 50)
                names.add (name);
    const wanted = ['', 'source', 'subject', 'id', 'level',
                    ...[...names].sort ().map (name => 'label:' + name)];
    if (view.filter.group && !wanted.includes (view.filter.group))
        wanted.push (view.filter.group);
    const have = [...select.options].map (option => option.value);
    if (have.join ('\n') !== wanted.join ('\n'))
        select.replaceChildren (...wanted.map (value =>
            h ('option', { value }, value === '' ? 'nothing' : value.replace ('label:', 'label '))));
    select.value = view.filter.group;
}

function filterChips () {
    const box = document.getElementById ('filters');
    box.replaceChildren (...view.filter.labels.map (label =>
        h ('button', { type: 'button', class: 'filter chip', dataset: { label },
                       title: 'remove this filter',
                       onclick: () => {
                           view.filter.labels = view.filter.labels.filter (other => other !== label);
                           filterChanged ();
                       } },
           label, h ('span', { 'aria-hidden': 'true' }, ' ×'))));
}

function selection () {
    if (!view.session.canAct)
        return;
    for (const key of view.selected)
        if (!store.alerts.has (key))
            view.selected.delete (key);
    const count = view.selected.size;
    document.getElementById ('selected-count').textContent = `${count} selected`;
    for (const button of document.querySelectorAll ('#bulk button'))
        button.disabled = count === 0;
    const all = document.getElementById ('select-all');
    const shownSelected = view.shown.filter (alert => view.selected.has (alertKey (alert))).length;
    all.checked = shownSelected > 0 && shownSelected === view.shown.length;
    all.indeterminate = shownSelected > 0 && shownSelected < view.shown.length;
}

// ---- the keyboard ----

function key (event) {
    if (!view?.active || event.ctrlKey || event.metaKey || event.altKey
        || event.target.closest ('input, textarea, select, [contenteditable]')
        || document.querySelector ('dialog[open]'))
        return;
    const handlers = {
        j: () => move (1), k: () => move (-1),
        a: () => withCursor (alert => view.session.canAct && askUntil ('ack', [alert])),
        c: () => withCursor (alert => view.session.canAct && act ('clear', [alert])),
        o: () => withCursor (alert => view.navigate (alertPath (alert.source, alert.id))),
        Enter: () => withCursor (alert => view.navigate (alertPath (alert.source, alert.id))),
        '/': () => document.getElementById ('search').focus (),
        '?': () => document.getElementById ('help').showModal (),
    };
    const handler = handlers [event.key];
    if (handler) {
        event.preventDefault ();
        handler ();
    }
}

function move (by) {
    const keys = view.shown.map (alertKey);
    if (keys.length === 0)
        return;
    const at = keys.indexOf (view.cursor);
    view.cursor = keys [at < 0 ? 0 : Math.max (0, Math.min (keys.length - 1, at + by))];
    render ();
    view.rows.get (view.cursor)?.tr.scrollIntoView ({ block: 'nearest' });
}

function withCursor (then) {
    const alert = store.alerts.get (view.cursor);
    if (alert)
        then (alert);
}

// silences.js — the silences page, /silences: lists, creates and expires.
//
// The list is GET /api/silences once, then the stream's `silence` events
// applied by id (store.js). The form may come prefilled from the URL
// (?source=&id=&subject=&label=K=V...), which is what "silence alerts like
// this" on an alert's page links to: the source and id become globs that
// match exactly that text (glob characters escaped), the labels exact
// label matchers. The broker judges every matcher; its reasons come back
// as lilac-web's 400 and are shown as they are.

import { api } from './api.js';
import { say } from './acts.js';
import { h, local, relative, when } from './dom.js';
import { store, onChange, loadSilences } from './store.js';

const STATE_RANK = { active: 0, pending: 1, expired: 2 };
let current = null;              //  { session } while shown

export async function silencesShow (session) {
    const section = document.getElementById ('silences-page');
    section.hidden = false;
    current = { session };
    if (!section.dataset.ready) {
        section.dataset.ready = 'yes';
        if (!session.canAct)
            document.getElementById ('silence-form').remove ();
        else
            document.getElementById ('silence-form').addEventListener ('submit', create);
    }
    prefill ();
    render ();
    try {
        await loadSilences ();
    } catch (failure) {
        say (`silences: ${failure.message}`, true);
    }
}

export function silencesHide () {
    current = null;
    document.getElementById ('silences-page').hidden = true;
}

onChange (kind => {
    if (current && (kind === 'silence' || kind === 'reload'))
        render ();
});

function escapeGlob (text) {
    return text.replace (/[\\*?[\]]/g, '\\$&');
}

function prefill () {
    const form = document.getElementById ('silence-form');
    const query = new URLSearchParams (location.search);
    if (!form || ![...query.keys ()].length)
        return;
    const value = name => query.has (name) ? escapeGlob (query.get (name)) : '';
    form.querySelector ('#sil-source').value = value ('source');
    form.querySelector ('#sil-id').value = value ('id');
    form.querySelector ('#sil-subject').value = value ('subject');
    form.querySelector ('#sil-labels').value = query.getAll ('label').join ('\n');
    form.querySelector ('#sil-source').focus ();
}

async function create (event) {
    event.preventDefault ();
    const form = event.target;
    const matchers = {};
    for (const name of ['source', 'id', 'subject']) {
        const value = form.querySelector ('#sil-' + name).value.trim ();
        if (value)
            matchers [name] = value;
    }
    const labels = form.querySelector ('#sil-labels').value.split ('\n')
                       .map (line => line.trim ()).filter (Boolean);
    if (labels.length)
        matchers.labels = labels;
    const body = { matchers, ends: form.querySelector ('#sil-ends').value.trim () || '+2h' };
    const note = form.querySelector ('#sil-note').value.trim ();
    if (note)
        body.note = note;
    try {
        const reply = await api ('POST', '/api/silences', body);
        store.silences.set (reply.silence.id, reply.silence);
        say (`silence ${reply.silence.id} added, ${reply.silence.state}`);
        render ();
    } catch (failure) {
        say (`the silence was not added: ${failure.message}`, true);
    }
}

async function expire (silence) {
    try {
        const reply = await api ('POST', `/api/silences/${encodeURIComponent (silence.id)}/expire`);
        store.silences.set (reply.silence.id, reply.silence);
        say (`silence ${silence.id} expired`);
        render ();
    } catch (failure) {
        say (`silence ${silence.id} was not expired: ${failure.message}`, true);
    }
}

function matchersText (matchers) {
    const parts = [];
    for (const name of ['source', 'id', 'subject'])
        if (matchers [name])
            parts.push (`${name}=${matchers [name]}`);
    return parts.concat (matchers.labels ?? []).join (', ');
}

function render () {
    if (!current)
        return;
    const silences = [...store.silences.values ()].sort ((a, b) =>
        (STATE_RANK [a.state] ?? 3) - (STATE_RANK [b.state] ?? 3) || b.created_at - a.created_at);
    const body = document.querySelector ('#silences tbody');
    body.replaceChildren (...silences.map (silence => h ('tr',
        { class: 'silence', dataset: { id: silence.id, state: silence.state } },
        h ('td', { class: 'state' }, silence.state),
        h ('td', { class: 'matchers' }, matchersText (silence.matchers ?? {})),
        h ('td', { class: 'starts' }, when (silence.starts, local (silence.starts))),
        h ('td', { class: 'ends' }, when (silence.ends, `${local (silence.ends)} (${relative (silence.ends)})`)),
        h ('td', { class: 'by' }, silence.expired_by ? `${silence.by}; expired by ${silence.expired_by}`
                                                     : silence.by),
        h ('td', { class: 'note' }, silence.note ?? ''),
        h ('td', {}, current.session.canAct && silence.state !== 'expired'
           ? h ('button', { type: 'button', class: 'expire',
                            'aria-label': `expire silence ${silence.id}`,
                            onclick: () => expire (silence) }, 'Expire')
           : null))));
    document.getElementById ('silences-empty').hidden = silences.length > 0;
}

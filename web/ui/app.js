// app.js — lilac's page: who is looking, which view, and the live store.
//
// One document serves three views, chosen by the path: `/` the alert list,
// `/alerts/SOURCE/ID` one alert (its own URL, so a Pushover message or an
// e-mail can link to it), `/silences`. Links inside the page change the
// view without a reload, so the live stream (store.js) stays open. Who we
// are comes from GET /api/session: without a session (authentication on)
// lilac-web answers 401 and we go to /login, which comes back. Only an
// admin sees the buttons that act; lilac-web refuses the acts of anybody
// else anyway, whatever a page sends.

import { api, login } from './api.js';
import { alertShow, alertHide } from './alert.js';
import { listShow, listHide, overview, setTitle } from './list.js';
import { silencesShow, silencesHide } from './silences.js';
import { onChange, loadAlerts } from './store.js';
import { say } from './acts.js';

window.lilac = { ready: false, loadMs: null, renderMs: null, renders: 0 };

let session = null;

function navigate (url) {
    history.pushState (null, '', url);
    route ();
}

function route () {
    const path = location.pathname;
    const parts = path.split ('/');
    listHide ();
    alertHide ();
    silencesHide ();
    for (const link of document.querySelectorAll ('nav a'))
        link.removeAttribute ('aria-current');
    if (path === '/') {
        document.getElementById ('nav-alerts').setAttribute ('aria-current', 'page');
        listShow (session, navigate);
        overview ();
    } else if (parts.length === 4 && parts [1] === 'alerts') {
        alertShow (session, navigate, decodeURIComponent (parts [2]), decodeURIComponent (parts [3]));
    } else if (path === '/silences') {
        document.getElementById ('nav-silences').setAttribute ('aria-current', 'page');
        setTitle ('silences · lilac');
        silencesShow (session);
    } else {
        say (`no page at ${path}`, true);
    }
}

// Same-origin links that are ours change the view in place.
function follow (event) {
    const link = event.target.closest ('a[href]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey
        || event.shiftKey || event.altKey || link.target)
        return;
    const url = new URL (link.href);
    if (url.origin !== location.origin || url.pathname.startsWith ('/api/')
        || url.pathname === '/login')
        return;
    event.preventDefault ();
    navigate (url.pathname + url.search);
}

async function logout () {
    try {
        await api ('DELETE', '/api/session');
    } catch (failure) {
        say (`logout failed: ${failure.message}`, true);
        return;
    }
    login ();
}

async function start () {
    try {
        session = await api ('GET', '/api/session');
    } catch (failure) {
        if (failure.status === 401)
            return login ();
        document.getElementById ('banner').hidden = false;
        document.getElementById ('banner').textContent = `lilac-web: ${failure.message}`;
        return;
    }
    session.canAct = session.role === 'admin';
    document.body.classList.toggle ('reader', !session.canAct);
    document.getElementById ('whoami').textContent = `${session.user} (${session.role})`;
    const button = document.getElementById ('logout');
    button.hidden = !session.session;
    button.addEventListener ('click', logout);
    document.addEventListener ('click', follow);
    window.addEventListener ('popstate', route);
    let counting = null;           //  the overview follows changes, 10 times a second at most
    onChange (kind => {
        if ((kind === 'reload' || kind === 'alert') && !counting)
            counting = setTimeout (() => { counting = null; overview (); }, 100);
    });
    for (;;) {
        try {
            await loadAlerts ();
            break;
        } catch (failure) {
            if (failure.status === 401)
                return;
            document.getElementById ('banner').hidden = false;
            await new Promise (resolve => setTimeout (resolve, 2000));
        }
    }
    route ();
    window.lilac.ready = true;     //  (the list sets it, and loadMs, at its first render)
}

start ();

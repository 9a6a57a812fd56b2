// api.js — the one way the page talks to lilac-web.
//
// Requests carry the session cookie (same origin) and, when they change
// something, a JSON body with Content-Type application/json: lilac-web
// refuses a cookie's change without both (its CSRF rule), and the browser
// adds our Origin itself. A 401 means the session ended: the page goes to
// the login, which comes back here. Any other failure is an ApiError with
// lilac-web's own words ({"error": "..."}), for the page to show.

export class ApiError extends Error {
    constructor (status, message) {
        super (message);
        this.status = status;
    }
}

export function login () {
    location.assign ('/login?next=' + encodeURIComponent (location.pathname + location.search));
}

export async function api (method, path, body) {
    const init = { method, credentials: 'same-origin', headers: {} };
    if (method !== 'GET') {
        init.headers ['Content-Type'] = 'application/json';
        init.body = JSON.stringify (body ?? {});
    }
    let answer;
    try {
        answer = await fetch (path, init);
    } catch (failure) {
        throw new ApiError (0, 'lilac-web did not answer: ' + failure.message);
    }
    if (answer.status === 401 && !path.startsWith ('/api/session')) {
        login ();
        throw new ApiError (401, 'the session ended: log in again');
    }
    const text = await answer.text ();
    let reply = null;
    try {
        reply = text ? JSON.parse (text) : null;
    } catch {
        reply = null;
    }
    if (!answer.ok)
        throw new ApiError (answer.status, reply?.error || `${answer.status} ${answer.statusText}`);
    return reply;
}

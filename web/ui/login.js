// login.js — the login form: POST /api/session as JSON (lilac-web's CSRF
// rule: changes come as JSON), then on to `next`. `next` is taken only
// when the browser itself resolves it to this origin (a pattern on the
// text would miss what browsers strip, like "/\t/elsewhere"), so the page
// cannot send a user off-site after a login.

const form = document.getElementById ('login');
const error = document.getElementById ('error');

function next () {
    const wanted = new URL (new URLSearchParams (location.search).get ('next') || '/', location.origin);
    return wanted.origin === location.origin ? wanted.pathname + wanted.search + wanted.hash : '/';
}

form.addEventListener ('submit', async event => {
    event.preventDefault ();
    error.textContent = '';
    const body = JSON.stringify ({ user: form.user.value, password: form.password.value });
    try {
        const answer = await fetch ('/api/session', {
            method: 'POST', body, credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json' } });
        if (answer.ok) {
            location.assign (next ());
            return;
        }
        const reply = await answer.json ().catch (() => ({}));
        error.textContent = reply.error || `login failed: ${answer.status}`;
    } catch (failure) {
        error.textContent = 'lilac-web did not answer: ' + failure.message;
    }
});

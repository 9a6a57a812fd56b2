// app.js — lilac's first page: every alert that is not cleared, live.
//
// The list comes from GET /api/alerts with the position it is consistent
// with; the stream then starts exactly there (?since=N:SEQ), so nothing
// between the two is missed; a reset reloads. Alert text is untrusted: it
// is only ever set as textContent.

const alerts = new Map();                  // "source\0id" -> alert
const order = { raised: 0, acked: 1, pending: 2 };
const levels = { urgent: 0, normal: 1, low: 2 };

function key (alert) {
    return alert.source + '\0' + alert.id;
}

function cell (row, text) {
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    row.appendChild(td);
}

function render () {
    const shown = [...alerts.values ()].filter (a => a.state in order);
    shown.sort ((a, b) => order [a.state] - order [b.state]
                       || (levels [a.level] ?? 3) - (levels [b.level] ?? 3)
                       || key (a).localeCompare (key (b)));
    const body = document.querySelector ('#alerts tbody');
    body.replaceChildren (...shown.map (alert => {
        const row = document.createElement ('tr');
        row.className = alert.state;
        for (const text of [alert.state, alert.level, alert.source, alert.id,
                            alert.summary || alert.subject])
            cell (row, text);
        return row;
    }));
    const raised = shown.filter (a => a.state === 'raised').length;
    document.title = raised ? `(${raised}) lilac` : 'lilac';
    document.getElementById ('counts').textContent =
        `${raised} raised, ${shown.length - raised} acknowledged or pending`;
}

function follow (since) {
    const stream = new EventSource ('/api/stream?silences=no&since=' + encodeURIComponent (since));
    const banner = document.getElementById ('banner');
    stream.onopen = () => { banner.hidden = true; };
    stream.onerror = () => { banner.hidden = false; };
    stream.addEventListener ('change', event => {
        const change = JSON.parse (event.data);
        if (change.event === 'deleted')
            alerts.delete (key (change.alert));
        else
            alerts.set (key (change.alert), change.alert);
        render ();
    });
    stream.addEventListener ('reset', () => {
        stream.close ();
        load ();
    });
}

async function load () {
    const answer = await fetch ('/api/alerts', { credentials: 'same-origin' });
    if (answer.status === 401) {
        location.assign ('/login?next=/');
        return;
    }
    const list = await answer.json ();
    alerts.clear ();
    for (const alert of list.alerts)
        alerts.set (key (alert), alert);
    render ();
    follow (`${list.epoch.n}:${list.seq}`);
}

load ();

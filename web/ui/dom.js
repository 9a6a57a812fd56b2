// dom.js — building the page safely, and times as people read them.
//
// Every alert field is untrusted text (any sender may write `<script>` into
// a summary), so nothing here ever parses a string as HTML: h() makes
// elements and sets strings as text nodes, and links are only ever built by
// us from percent-encoded path segments. Times are epoch milliseconds, as
// the API gives them; they show relative ("12 min ago") with the exact UTC
// time on hover, or in the browser's own zone when absolute.

// h('td', {class: 'age', title: '...'}, 'text', child, ...) → an element.
// Attributes: class, dataset (an object), on* (a function), hidden and
// boolean flags (true / false), anything else as a string attribute.
export function h (tag, attrs = {}, ...children) {
    const element = document.createElement (tag);
    for (const [name, value] of Object.entries (attrs)) {
        if (value == null || value === false)
            continue;
        if (name === 'class')
            element.className = value;
        else if (name === 'dataset')
            Object.assign (element.dataset, value);
        else if (name.startsWith ('on') && typeof value === 'function')
            element.addEventListener (name.slice (2), value);
        else
            element.setAttribute (name, value === true ? '' : String (value));
    }
    append (element, children);
    return element;
}

function append (element, children) {
    for (const child of children) {
        if (child == null || child === false)
            continue;
        if (Array.isArray (child))
            append (element, child);
        else
            element.append (child instanceof Node ? child : String (child));
    }
}

// The page of one alert, and its API resource: each segment encoded alone,
// so an id holding '/' (disk-space-/) stays one segment.
export function alertPath (source, id) {
    return '/alerts/' + encodeURIComponent (source) + '/' + encodeURIComponent (id);
}

export function alertApi (source, id) {
    return '/api' + alertPath (source, id);
}

export function alertKey (alert) {
    return alert.source + '\0' + alert.id;
}

// "3 min 12 s", "2 h 5 min", "4 d 3 h", "45 s": two units at most.
export function span (ms) {
    const seconds = Math.round (Math.abs (ms) / 1000);
    const units = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];
    const first = units.findIndex (([, size]) => seconds >= size);
    if (first < 0)
        return '0 s';
    const [name, size] = units [first];
    const text = Math.floor (seconds / size) + ' ' + name;
    if (first === units.length - 1)
        return text;
    const [next, nextSize] = units [first + 1];
    const part = Math.floor ((seconds % size) / nextSize);
    return part ? `${text} ${part} ${next}` : text;
}

// "12 min ago" or "in 3 min 12 s".
export function relative (at, now = Date.now ()) {
    return at <= now ? span (now - at) + ' ago' : 'in ' + span (at - now);
}

export function utc (at) {
    return new Date (at).toISOString ().replace ('T', ' ').replace (/\.\d+Z$/, ' UTC');
}

export function local (at) {
    return new Date (at).toLocaleString ([], { dateStyle: 'medium', timeStyle: 'short' });
}

// A <time> holding text, the exact UTC time on hover.
export function when (at, text) {
    return h ('time', { datetime: new Date (at).toISOString (), title: utc (at) }, text);
}

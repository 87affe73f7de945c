// Message text is always rendered as text: no HTML from a message ever
// reaches the page. Links become anchors only for http and https.

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

/** Returns a fragment with body's text, http(s) links made clickable. */
export function renderText(body) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of body.matchAll(URL_RE)) {
    let url = m[0].replace(/[.,;:!?)\]]+$/, '');
    const start = m.index;
    if (start > last) frag.append(document.createTextNode(body.slice(last, start)));
    let parsed = null;
    try { parsed = new URL(url); } catch { /* not a URL after all */ }
    if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:')) {
      const a = document.createElement('a');
      a.href = parsed.href;
      a.textContent = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      frag.append(a);
    } else {
      frag.append(document.createTextNode(url));
    }
    last = start + url.length;
  }
  if (last < body.length) frag.append(document.createTextNode(body.slice(last)));
  return frag;
}

/** Creates an element with text content and attributes. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

export function timeOf(ts) {
  const d = new Date(ts);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** The day of ts, as a separator says it: "Today", "Yesterday" or a date. */
export function dayOf(ts) {
  const d = new Date(ts);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

/**
 * The live view's pages, served from the box itself: no CDN, no outside font, no inline
 * script (the Content-Security-Policy forbids them), so the page works on a staff network
 * with no internet and cannot be made to load anything from elsewhere.
 */
const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string, scripts: string[] = []): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<link rel="stylesheet" href="/app.css">
${scripts.map((s) => `<script src="${s}" defer></script>`).join('\n')}
</head>
<body>
${body}
</body>
</html>
`;
}

export function loginPage(message: string | null, user = ''): string {
  return page(
    'libcam: staff log in',
    `<main class="login">
<h1>Library cameras</h1>
<p>Live view for library staff. Recorded footage is not available here.</p>
${message ? `<p class="error" role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/login">
<label>Account <input name="user" autocomplete="username" required value="${escape(user)}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
</main>`,
  );
}

export function gridPage(user: string): string {
  return page(
    'libcam: live view',
    `<header>
<h1>Library cameras, live</h1>
<form method="post" action="/logout"><span>${escape(user)}</span> <button type="submit">Log out</button></form>
</header>
<main id="grid" aria-live="polite"></main>`,
    ['/app.js'],
  );
}

export const APP_CSS = `body { font-family: system-ui, sans-serif; margin: 0; background: #111; color: #eee; }
header { display: flex; justify-content: space-between; align-items: center; padding: 0.5rem 1rem; background: #222; }
h1 { font-size: 1.2rem; margin: 0; }
main.login { max-width: 22rem; margin: 4rem auto; background: #222; padding: 1.5rem; border-radius: 6px; }
main.login label { display: block; margin: 0.8rem 0; }
main.login input { display: block; width: 100%; padding: 0.4rem; margin-top: 0.2rem; }
.error { color: #f88; }
#grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 0.5rem; padding: 0.5rem; }
.tile { background: #000; border: 1px solid #333; min-height: 200px; position: relative; }
.tile h2 { font-size: 1rem; margin: 0; padding: 0.3rem 0.5rem; background: rgba(0,0,0,0.6); }
.tile p { padding: 0 0.5rem; }
.tile.paused, .tile.error { color: #fc6; }
.picture video, .picture img { display: block; width: 100%; height: auto; background: #000; }
.note { font-size: 0.85rem; color: #aaa; }
`;

/**
 * The grid: every camera's name and state from /cameras.json every two seconds, and for a
 * recording camera its live picture over a WebSocket (/live/<camera>): H.264 as fragmented
 * MP4 into Media Source Extensions, kept within a second of the newest frame; H.265 as
 * JPEGs, with the reason on the tile. Tiles persist between refreshes so pictures keep
 * playing. Nothing here can ask for recorded footage: the server has no such route.
 */
export const APP_JS = `'use strict';
const grid = document.getElementById('grid');
const tiles = new Map();
const hhmm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
function describe(c) {
  if (c.state === 'paused' && c.pause) return 'paused for ' + c.pause.reason + ' until ' + hhmm(c.pause.until);
  if (c.state === 'error') return 'not recording: ' + (c.reason || 'error');
  if (c.state === 'disabled') return 'switched off in the configuration';
  if (c.state === 'recording') return '';
  return c.state + (c.reason ? ': ' + c.reason : '');
}
function tileFor(c) {
  let t = tiles.get(c.name);
  if (t) return t;
  const el = document.createElement('section');
  el.dataset.camera = c.name;
  el.dataset.pictures = '0';
  const h = document.createElement('h2');
  h.textContent = c.name;
  const pic = document.createElement('div');
  pic.className = 'picture';
  const note = document.createElement('p');
  note.className = 'note';
  const state = document.createElement('p');
  state.className = 'state';
  el.append(h, pic, note, state);
  grid.append(el);
  t = { name: c.name, el, pic, note, state, ws: null, retry: null, sink: null, recording: false };
  tiles.set(c.name, t);
  return t;
}
function stopLive(t) {
  clearTimeout(t.retry);
  t.retry = null;
  if (t.ws) { t.ws.onclose = null; t.ws.close(); t.ws = null; }
  if (t.sink) { t.sink.close(); t.sink = null; }
  t.pic.replaceChildren();
  t.note.textContent = '';
}
function startLive(t) {
  if (t.ws || t.retry) return;
  const ws = new WebSocket('wss://' + location.host + '/live/' + encodeURIComponent(t.name));
  ws.binaryType = 'arraybuffer';
  t.ws = ws;
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') { if (t.sink) t.sink.data(ev.data); return; }
    const m = JSON.parse(ev.data);
    if (t.sink) t.sink.close();
    t.note.textContent = m.why || '';
    t.sink = m.type === 'mp4' ? mp4Sink(t, m.mime) : m.type === 'jpeg' ? jpegSink(t) : null;
  };
  ws.onclose = () => {
    t.ws = null;
    if (t.sink) { t.sink.close(); t.sink = null; }
    if (t.recording) t.retry = setTimeout(() => { t.retry = null; if (t.recording) startLive(t); }, 2000);
  };
}
// A picture that cannot go on (a decode error, a lost append) starts over: the socket is
// closed and the tile reconnects, to a new init segment and the next keyframe.
function restart(t) {
  if (t.ws) t.ws.close();
}
function mp4Sink(t, mime) {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  t.pic.replaceChildren(video);
  if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) {
    t.note.textContent = 'This browser cannot play this camera live (' + mime + ').';
    return { data() {}, close() {} };
  }
  const ms = new MediaSource();
  let url = URL.createObjectURL(ms);
  video.src = url;
  const queue = [];
  let sb = null;
  let closed = false;
  const fail = () => { if (!closed) restart(t); };
  video.addEventListener('error', fail);
  ms.addEventListener('sourceended', fail);
  ms.addEventListener('sourceopen', () => {
    URL.revokeObjectURL(url);
    url = null;
    try { sb = ms.addSourceBuffer(mime); } catch (e) { fail(); return; }
    sb.mode = 'segments';
    sb.addEventListener('updateend', pump);
    sb.addEventListener('error', fail);
    pump();
  });
  // Live, not a recording: stay within a second of the newest frame, keep 30 s at most.
  function pump() {
    if (!sb || sb.updating || closed || ms.readyState !== 'open') return;
    const b = sb.buffered;
    if (b.length > 0) {
      const start = b.start(b.length - 1);
      const end = b.end(b.length - 1);
      if (video.currentTime < start || end - video.currentTime > 1) video.currentTime = Math.max(start, end - 0.1);
      if (video.paused) video.play().catch(() => {});
      if (video.currentTime - b.start(0) > 30) { sb.remove(b.start(0), video.currentTime - 10); return; }
    }
    const next = queue.shift();
    if (next) {
      try { sb.appendBuffer(next); t.el.dataset.pictures = String(Number(t.el.dataset.pictures) + 1); } catch (e) { fail(); }
    }
  }
  return {
    // More than ten seconds waiting to be appended: this tile cannot keep up; start over.
    data(buf) { queue.push(buf); if (queue.length > 300) fail(); else pump(); },
    close() {
      closed = true;
      queue.length = 0;
      if (url) URL.revokeObjectURL(url);
      video.removeAttribute('src');
      video.load();
    },
  };
}
function jpegSink(t) {
  const img = document.createElement('img');
  img.alt = t.name + ', live';
  t.pic.replaceChildren(img);
  let shown = null;
  let loading = null;
  return {
    // One picture loads at a time: one that comes meanwhile is skipped (a slow screen
    // shows fewer pictures, and keeps no more than two in memory).
    data(buf) {
      if (loading) return;
      const url = URL.createObjectURL(new Blob([buf], { type: 'image/jpeg' }));
      loading = url;
      img.onload = () => {
        if (shown) URL.revokeObjectURL(shown);
        shown = url;
        loading = null;
        t.el.dataset.pictures = String(Number(t.el.dataset.pictures) + 1);
      };
      img.onerror = () => { URL.revokeObjectURL(url); loading = null; };
      img.src = url;
    },
    close() {
      for (const u of [shown, loading]) if (u) URL.revokeObjectURL(u);
      shown = loading = null;
      img.onload = img.onerror = null;
    },
  };
}
async function refresh() {
  const r = await fetch('/cameras.json', { cache: 'no-store' });
  if (r.status === 401) { location.href = '/login'; return; }
  const cameras = await r.json();
  const names = new Set(cameras.map((c) => c.name));
  for (const [name, t] of tiles) if (!names.has(name)) { stopLive(t); t.el.remove(); tiles.delete(name); }
  for (const c of cameras) {
    const t = tileFor(c);
    t.el.className = 'tile ' + c.state;
    t.el.dataset.state = c.state;
    t.state.textContent = describe(c);
    t.recording = c.state === 'recording';
    if (t.recording) startLive(t); else stopLive(t);
  }
}
refresh();
setInterval(refresh, 2000);
`;

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
`;

/** The grid: camera names and states, every two seconds. No footage: only what status says. */
export const APP_JS = `'use strict';
const grid = document.getElementById('grid');
const hhmm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
function describe(c) {
  if (c.state === 'paused' && c.pause) return 'paused for ' + c.pause.reason + ' until ' + hhmm(c.pause.until);
  if (c.state === 'error') return 'not recording: ' + (c.reason || 'error');
  if (c.state === 'disabled') return 'switched off in the configuration';
  if (c.state === 'recording') return 'recording (the live picture is not served by this version yet)';
  return c.state;
}
async function refresh() {
  const r = await fetch('/cameras.json', { cache: 'no-store' });
  if (r.status === 401) { location.href = '/login'; return; }
  const cameras = await r.json();
  grid.replaceChildren(...cameras.map((c) => {
    const tile = document.createElement('section');
    tile.className = 'tile ' + c.state;
    tile.dataset.camera = c.name;
    const h = document.createElement('h2');
    h.textContent = c.name;
    const p = document.createElement('p');
    p.textContent = describe(c);
    tile.append(h, p);
    return tile;
  }));
}
refresh();
setInterval(refresh, 2000);
`;

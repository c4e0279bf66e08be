// The console's API client. The bearer token lives in this module's memory only: never in
// localStorage, sessionStorage or a cookie; a reload asks for a login again.

let token = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const hasToken = () => token !== null;
export const setToken = (t) => { token = t || null; };
export const whenUnauthorized = (fn) => { onUnauthorized = fn; };

async function problem(res) {
  let text = `${res.status} ${res.statusText}`.trim();
  try {
    const p = await res.json();
    text = p.detail || p.title || p.error_description || p.error || text;
  } catch { /* not JSON */ }
  return new ApiError(res.status, text);
}

// fetch() with the token; a 401 ends the session (back to the login), other errors throw
// ApiError with the problem's detail. Returns the parsed JSON, or the Response with raw.
export async function api(path, { method = 'GET', body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit',
  });
  if (res.status === 401) {
    token = null;
    onUnauthorized();
    throw new ApiError(401, 'The session has ended: log in again.');
  }
  if (!res.ok) throw await problem(res);
  return raw ? res : res.json();
}

export const qs = (params) => new URLSearchParams(
  Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();

// The embedded issuer's client-credentials grant (docs/console.md, Access).
export async function operatorLogin(clientId, secret) {
  const res = await fetch('/oauth2/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: 'member:operate',
    }).toString(),
    cache: 'no-store',
    // No credentials mode: a 401 with a Basic challenge (RFC 6749 5.2) would otherwise make
    // the browser prompt for a user name and password instead of answering the page.
    credentials: 'omit',
  });
  if (!res.ok) throw await problem(res);
  const t = await res.json();
  if (!t.access_token) throw new ApiError(500, 'the token endpoint returned no access_token');
  return t;
}

// Fetches a file with the token and saves it (a link cannot carry the Authorization header).
export async function download(path, filename) {
  const res = await api(path, { raw: true });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  return blob.size;
}

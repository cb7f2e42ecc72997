// The console's one way to the HTTP API (DESIGN.md §4): the session's bearer token, JSON in and
// out, every failure as an ApiError carrying the server's error.message, the event stream read
// from a fetch (EventSource cannot send a token), and the polling loop the pages refresh with.
import { session } from './session.js';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let tokenRefused = () => {};
// `handler(error)` runs when the server answers 401 to the session's token.
export function whenTokenRefused(handler) {
  tokenRefused = handler;
}

async function send(path, { method = 'GET', body, signal, token = session.token, headers = {} }) {
  const init = { method, signal, cache: 'no-store', headers: { ...headers, Authorization: `Bearer ${token}` } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `Cannot reach the Cairn server (${e.message}).`);
  }
}

// The ApiError for a response that is not 2xx, from its {"error": {code, message, field}}.
async function failure(res, token) {
  let error = null;
  try {
    error = (await res.json())?.error ?? null;
  } catch {
    // not JSON: described by the status below
  }
  const e = new ApiError(res.status, error?.code ?? `http_${res.status}`,
                         error?.message ?? `HTTP ${res.status} ${res.statusText}`.trim(), error?.field);
  if (res.status === 401 && token === session.token) tokenRefused(e);
  return e;
}

// The parsed JSON body of a 2xx answer; throws ApiError otherwise. `options.token` overrides
// the session's (signing in).
export async function api(path, options = {}) {
  const token = options.token ?? session.token;
  const res = await send(path, { ...options, token });
  if (!res.ok) throw await failure(res, token);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// Reads GET /api/stream (Server-Sent Events) until it ends or `signal` aborts, calling
// `onOpen()` once the server has answered (its starting point is fixed from then on) and
// `onEvent({id, type, data})` per event (data parsed). `lastEventId` resumes after a position.
export async function readEventStream(path, { signal, lastEventId, onOpen, onEvent }) {
  const headers = { Accept: 'text/event-stream' };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  const res = await send(path, { signal, headers });
  if (!res.ok) throw await failure(res, session.token);
  onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (frame) onEvent(frame);
    }
  }
}

function parseFrame(text) {
  const frame = { id: null, type: 'message', data: '' };
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) continue;  // a heartbeat
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') frame.id = value;
    else if (field === 'event') frame.type = value;
    else if (field === 'data') frame.data += (frame.data ? '\n' : '') + value;
  }
  if (!frame.data) return null;
  frame.data = JSON.parse(frame.data);
  return frame;
}

// Runs `refresh()` now and then `ms` after each run ends, until `signal` aborts; skipped while
// the tab is hidden. `refresh` shows the API's errors itself; the loop goes on after any.
export async function every(ms, signal, refresh) {
  while (!signal.aborted) {
    if (!document.hidden) {
      try {
        await refresh();
      } catch (e) {
        if (e.name !== 'AbortError') reportError(e);  // a bug: the page's banner shows it
      }
    }
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
}

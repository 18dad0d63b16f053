// The chat page that `sio-chat` serves at `/`: one self-contained HTML document (CSS and JS inline); the only
// other resource it loads is the official client bundle at /socket.io/socket.io.js.
//
// It keeps the skeleton of the Socket.IO tutorial (a `#messages` list, a `#form` with an `#input` and a Send button,
// `socket.emit('chat message', input.value)` on submit) and adds what a real chat room has: a nickname (the
// server's default shown at once, changeable), join/leave notices, "X is typing...", the online count, recent
// history for newcomers, and a switch between the rooms `/` (Lobby) and `/chat` (Support).
//
// URL parameters: `?ns=/chat` picks the namespace (default `/`); `?transports=polling` or `?transports=websocket`
// (comma-separated list) forces the Engine.IO transports, for tests and for trying each transport by hand.
// For tests and debugging the page exposes `window.socket` (the socket) and `window.chat` (its state: nickname,
// online, ready, connects, disconnects, ...).
//
// Event contract with the server (both namespaces):
//   client -> server: `chat message` (text), `set nickname` (name, ack -> {ok, nickname} | {ok: false, error}),
//                     `typing` (bool); the connect auth payload carries {nickname} once the user chose one.
//   server -> client: `welcome` {nickname, online, history: [{id, nickname, text, time}]}, `chat message`
//                     (text, {id, nickname, time}), `user joined` / `user left` {nickname, online},
//                     `nickname changed` {old, new}, `typing` {nickname, typing}, `online` (count).
//
// The document is a raw string literal (#"""..."""#): the JS below uses no backslashes all the same, so that it
// reads the same in a browser's view-source as here.

enum ChatPage {
    static let html: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light dark">
<title>Socket.IO chat</title>
<style>
:root {
  --bg: #eef1f6;
  --panel: #ffffff;
  --text: #18202b;
  --muted: #5b6472;
  --line: #dde2ea;
  --accent: #2f5fd0;
  --accent-text: #ffffff;
  --accent-soft: #e6edfc;
  --mine: #2f5fd0;
  --mine-text: #ffffff;
  --bubble: #f1f3f7;
  --ok: #1d7a46;
  --warn: #a35a00;
  --bad: #b42318;
  --radius: 14px;
  --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 8px 24px rgba(16, 24, 40, .08);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif;
  font-size: 16px;
  line-height: 1.4;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f141b;
    --panel: #171d26;
    --text: #e7ebf1;
    --muted: #9aa4b2;
    --line: #2a3340;
    --accent: #7aa2ff;
    --accent-text: #0f141b;
    --accent-soft: #1f2a40;
    --mine: #3d6be0;
    --mine-text: #ffffff;
    --bubble: #222a35;
    --ok: #4cc38a;
    --warn: #f0b35a;
    --bad: #ff8a80;
    --shadow: 0 1px 2px rgba(0, 0, 0, .3), 0 8px 24px rgba(0, 0, 0, .35);
  }
}
* { box-sizing: border-box; }
html, body { height: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
  display: flex;
  justify-content: center;
}
.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.skip-link { position: absolute; left: .5rem; top: -3rem; z-index: 10; padding: .5rem .75rem;
  background: var(--accent); color: var(--accent-text); border-radius: 8px; text-decoration: none; }
.skip-link:focus { top: .5rem; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }

.app {
  width: 100%;
  max-width: 960px;
  height: 100vh;
  height: 100dvh;
  display: flex;
  flex-direction: column;
  background: var(--panel);
  box-shadow: var(--shadow);
}
@media (min-width: 1000px) {
  body { padding: 1.25rem; }
  .app { height: calc(100dvh - 2.5rem); border-radius: var(--radius); overflow: hidden; }
}

/* header: title, rooms, presence */
.topbar {
  display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem;
  padding: .75rem 1rem; border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: center; gap: .5rem; margin-right: auto; min-width: 0; }
.brand h1 { font-size: 1.1rem; margin: 0; white-space: nowrap; }
.logo { width: 1.9rem; height: 1.9rem; border-radius: 50%; display: grid; place-items: center;
  background: var(--accent); color: var(--accent-text); font-weight: 700; font-size: .9rem; flex: none; }
.rooms { display: flex; gap: .25rem; background: var(--bubble); padding: .2rem; border-radius: 999px; }
.rooms a { color: var(--text); text-decoration: none; padding: .35rem .8rem; border-radius: 999px;
  font-size: .92rem; display: inline-flex; gap: .35rem; align-items: baseline; min-height: 2rem; }
.rooms a:hover { background: var(--accent-soft); }
.rooms a[aria-current="page"] { background: var(--accent); color: var(--accent-text); }
.rooms .ns { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .78rem; opacity: .8; }
.presence { display: flex; align-items: center; gap: .75rem; font-size: .9rem; color: var(--muted); }
#online { font-weight: 600; color: var(--text); white-space: nowrap; }
.conn { display: inline-flex; align-items: center; gap: .35rem; white-space: nowrap; }
.conn::before { content: ""; width: .6rem; height: .6rem; border-radius: 50%; background: var(--warn); }
.conn[data-state="connected"]::before { background: var(--ok); }
.conn[data-state="offline"]::before { background: var(--bad); }

/* identity bar: nickname */
.identity { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .5rem 1rem;
  border-bottom: 1px solid var(--line); background: var(--accent-soft); font-size: .92rem; }
#nick-form { display: flex; align-items: center; gap: .5rem; flex-wrap: wrap; }
#nick-form label { color: var(--muted); }
#nickname { font: inherit; padding: .35rem .6rem; border: 1px solid var(--line); border-radius: 8px;
  background: var(--panel); color: var(--text); width: 12rem; max-width: 50vw; }
#nick-status { color: var(--muted); }
#nick-status[data-kind="error"] { color: var(--bad); }
.room-note { color: var(--muted); margin-left: auto; }

/* messages */
main { flex: 1; min-height: 0; position: relative; }
#messages {
  list-style-type: none; margin: 0; padding: 1rem; height: 100%; overflow-y: auto;
  display: flex; flex-direction: column; gap: .5rem; scroll-behavior: smooth;
}
@media (prefers-reduced-motion: reduce) { #messages { scroll-behavior: auto; } }
#messages > li.msg { display: flex; gap: .6rem; align-items: flex-end; max-width: 80%; }
#messages > li.msg.mine { align-self: flex-end; flex-direction: row-reverse; }
.avatar { flex: none; width: 2rem; height: 2rem; border-radius: 50%; display: grid; place-items: center;
  color: #fff; font-weight: 700; font-size: .85rem; background: hsl(var(--hue, 220) 55% 38%); }
.bubble { background: var(--bubble); padding: .45rem .75rem .5rem; border-radius: var(--radius);
  border-bottom-left-radius: 4px; min-width: 0; }
.mine .bubble { background: var(--mine); color: var(--mine-text); border-bottom-left-radius: var(--radius);
  border-bottom-right-radius: 4px; }
.meta { display: flex; gap: .5rem; align-items: baseline; font-size: .78rem; margin-bottom: .1rem; }
.meta .nick { font-weight: 700; }
.meta time { opacity: .75; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
#messages > li.notice { align-self: center; color: var(--muted); font-size: .85rem; text-align: center;
  padding: .15rem .75rem; border-radius: 999px; background: var(--bubble); max-width: 90%; }
#messages > li.notice.history { background: transparent; border-bottom: 1px solid var(--line);
  border-radius: 0; align-self: stretch; }
.empty { color: var(--muted); text-align: center; margin: auto; padding: 2rem 1rem; }
#jump { position: absolute; right: 1rem; bottom: .75rem; display: none; }
#jump.show { display: inline-block; }

/* typing line and the form */
#typing { min-height: 1.5rem; padding: 0 1rem; font-size: .85rem; color: var(--muted); font-style: italic; }
#form { display: flex; gap: .5rem; padding: .6rem .75rem calc(.6rem + env(safe-area-inset-bottom));
  border-top: 1px solid var(--line); background: var(--panel); }
#input { flex: 1; min-width: 0; font: inherit; padding: .65rem 1rem; border-radius: 999px;
  border: 1px solid var(--line); background: var(--bg); color: var(--text); }
#input:focus { outline: none; border-color: var(--accent); box-shadow: 0 0 0 3px var(--accent-soft); }
button { font: inherit; font-weight: 600; border: 0; border-radius: 999px; padding: .55rem 1.1rem;
  background: var(--accent); color: var(--accent-text); cursor: pointer; min-height: 2.5rem; }
button:hover { filter: brightness(1.08); }
button.secondary { background: var(--panel); color: var(--accent); border: 1px solid var(--accent);
  min-height: 2rem; padding: .3rem .8rem; }
@media (max-width: 600px) {
  .topbar { padding: .6rem .75rem; }
  .presence { width: 100%; justify-content: space-between; }
  .room-note { display: none; }
  #messages > li.msg { max-width: 92%; }
  #nickname { width: 9rem; }
}
</style>
</head>
<body>
<a class="skip-link" href="#input">Skip to the message box</a>
<div class="app">
  <header class="topbar">
    <div class="brand">
      <span class="logo" aria-hidden="true">IO</span>
      <h1 id="title">Socket.IO chat</h1>
    </div>
    <nav class="rooms" aria-label="Rooms">
      <a href="?ns=/" data-ns="/">Lobby <span class="ns">/</span></a>
      <a href="?ns=/chat" data-ns="/chat">Support <span class="ns">/chat</span></a>
    </nav>
    <div class="presence">
      <span id="online" role="status" aria-live="polite">&ndash; online</span>
      <span id="connection" class="conn" role="status" data-state="connecting">Connecting&hellip;</span>
    </div>
  </header>

  <section class="identity" aria-label="Your nickname">
    <form id="nick-form" action="">
      <label for="nickname">You are</label>
      <input id="nickname" name="nickname" maxlength="32" autocomplete="nickname" spellcheck="false"
             placeholder="connecting&hellip;" aria-describedby="nick-status" />
      <button type="submit" class="secondary" id="nick-save">Change</button>
      <span id="nick-status" role="status" aria-live="polite"></span>
    </form>
    <span class="room-note" id="room-note"></span>
  </section>

  <main>
    <ul id="messages" role="log" aria-live="polite" aria-relevant="additions" aria-label="Messages"></ul>
    <button type="button" id="jump" class="secondary">New messages</button>
  </main>

  <div id="typing" aria-live="polite"></div>
  <form id="form" action="">
    <label for="input" class="visually-hidden">Message</label>
    <input id="input" autocomplete="off" placeholder="Message" enterkeyhint="send" /><button>Send</button>
  </form>
</div>
<noscript><p class="empty">This chat needs JavaScript.</p></noscript>

<script src="/socket.io/socket.io.js"></script>
<script>
'use strict';

// --- which room, which transports (URL: ?ns=/chat&transports=polling) -------------------------------------------
const params = new URLSearchParams(location.search);
const ROOMS = { '/': 'Lobby', '/chat': 'Support' };
const ROOM_NOTES = { '/': 'Everyone on the default namespace', '/chat': 'The /chat namespace, a room of its own' };
function normalizeNamespace(value) {
  let ns = (value || '/').trim();
  if (!ns.startsWith('/')) ns = '/' + ns;
  return ns;
}
const namespace = normalizeNamespace(params.get('ns'));
const transports = (params.get('transports') || '').split(',').map((t) => t.trim()).filter(Boolean);

const NICK_KEY = 'sio-chat-nickname';
function storedNickname() {
  try { return sessionStorage.getItem(NICK_KEY) || ''; } catch (e) { return ''; }
}
function storeNickname(name) {
  try { sessionStorage.setItem(NICK_KEY, name); } catch (e) { /* storage disabled: keep it in memory only */ }
}

// State, readable from tests and the console.
const chat = window.chat = {
  namespace: namespace,
  nickname: '',          // as the server knows us
  preferred: storedNickname(), // what the user chose (kept per tab, re-applied after a reconnect)
  online: 0,
  ready: false,          // the server's welcome arrived
  connects: 0,
  welcomes: 0,
  disconnects: [],       // reasons, as the client reported them
  recovered: false,      // the last connect recovered the session (connection state recovery)
  received: 0,           // chat messages rendered
};

// --- the socket ---------------------------------------------------------------------------------------------------
// The tutorial's `const socket = io();` connects to the default namespace; this page names the namespace from its
// URL, and sends the nickname the user chose (if any) with every connection attempt.
const options = {
  auth: (cb) => cb(chat.preferred ? { nickname: chat.preferred } : {}),
};
if (transports.length) options.transports = transports;
const socket = io(namespace, options);
window.socket = socket;

const messages = document.getElementById('messages');
const form = document.getElementById('form');
const input = document.getElementById('input');
const nickForm = document.getElementById('nick-form');
const nickInput = document.getElementById('nickname');
const nickStatus = document.getElementById('nick-status');
const onlineEl = document.getElementById('online');
const connEl = document.getElementById('connection');
const typingEl = document.getElementById('typing');
const jump = document.getElementById('jump');

// --- rooms navigation ---------------------------------------------------------------------------------------------
document.title = (ROOMS[namespace] || namespace) + ' - Socket.IO chat';
document.getElementById('room-note').textContent = ROOM_NOTES[namespace] || ('Namespace ' + namespace);
for (const a of document.querySelectorAll('.rooms a')) {
  const q = new URLSearchParams(location.search);
  q.set('ns', a.dataset.ns);
  a.href = '?' + q.toString();
  if (a.dataset.ns === namespace) a.setAttribute('aria-current', 'page');
}

// --- rendering ----------------------------------------------------------------------------------------------------
function nearBottom() {
  return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
}
function append(li) {
  const stick = nearBottom();
  messages.appendChild(li);
  if (stick) {
    messages.scrollTop = messages.scrollHeight;
  } else {
    jump.classList.add('show');
  }
  return li;
}
jump.addEventListener('click', () => {
  messages.scrollTop = messages.scrollHeight;
  jump.classList.remove('show');
  input.focus();
});
messages.addEventListener('scroll', () => { if (nearBottom()) jump.classList.remove('show'); });

function notice(text, extraClass) {
  const li = document.createElement('li');
  li.className = 'notice' + (extraClass ? ' ' + extraClass : '');
  li.textContent = text;
  return append(li);
}

function hueOf(name) {
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}
function formatTime(time) {
  if (time === undefined || time === null || time === '') return null;
  const d = new Date(time);
  if (isNaN(d.getTime())) return null;
  return d;
}

// Messages already shown (history and live broadcasts can overlap after a reconnect or a recovery).
const seen = new Set();
function messageKey(meta) {
  if (!meta || meta.id === undefined || meta.id === null) return null;
  return String(meta.id) + '|' + String(meta.time) + '|' + String(meta.nickname);
}

function addMessage(text, meta) {
  meta = (meta && typeof meta === 'object') ? meta : {};
  const key = messageKey(meta);
  if (key !== null) {
    if (seen.has(key)) return null;
    seen.add(key);
  }
  const nickname = (typeof meta.nickname === 'string' && meta.nickname) ? meta.nickname : 'anonymous';
  const li = document.createElement('li');
  li.className = 'msg' + (nickname === chat.nickname ? ' mine' : '');
  if (meta.id !== undefined) li.dataset.id = String(meta.id);
  li.dataset.nickname = nickname;

  const avatar = document.createElement('span');
  avatar.className = 'avatar';
  avatar.setAttribute('aria-hidden', 'true');
  avatar.style.setProperty('--hue', String(hueOf(nickname)));
  avatar.textContent = Array.from(nickname)[0].toUpperCase();

  const bubble = document.createElement('div');
  bubble.className = 'bubble';
  const head = document.createElement('div');
  head.className = 'meta';
  const who = document.createElement('span');
  who.className = 'nick';
  who.textContent = nickname;
  head.appendChild(who);
  const date = formatTime(meta.time);
  if (date) {
    const t = document.createElement('time');
    t.dateTime = date.toISOString();
    t.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    head.appendChild(t);
  }
  const body = document.createElement('div');
  body.className = 'text';
  body.textContent = String(text);
  bubble.appendChild(head);
  bubble.appendChild(body);
  li.appendChild(avatar);
  li.appendChild(bubble);
  append(li);
  chat.received += 1;
  bumpUnread();
  return li;
}

// Unread count in the tab title while the tab is hidden.
let unread = 0;
const baseTitle = document.title;
function bumpUnread() {
  if (!document.hidden) return;
  unread += 1;
  document.title = '(' + unread + ') ' + baseTitle;
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) { unread = 0; document.title = baseTitle; }
});

function setOnline(count) {
  if (typeof count !== 'number' || !isFinite(count)) return;
  chat.online = count;
  onlineEl.textContent = count + ' online';
}

function transportName() {
  const engine = socket.io.engine;
  return engine && engine.transport ? engine.transport.name : '';
}
function setConnection(state, detail) {
  connEl.dataset.state = state;
  const queued = socket.sendBuffer ? socket.sendBuffer.length : 0;
  let text;
  if (state === 'connected') {
    text = 'Connected';
    const t = transportName();
    if (t) text += ' (' + t + ')';
    connEl.dataset.transport = t;
  } else if (state === 'reconnecting') {
    text = 'Reconnecting' + (detail ? ' (attempt ' + detail + ')' : '') + '…';
  } else if (state === 'offline') {
    text = 'Offline' + (detail ? ': ' + detail : '');
  } else {
    text = 'Connecting…';
  }
  if (state !== 'connected' && queued > 0) text += ' - ' + queued + ' queued';
  connEl.textContent = text;
}

// --- typing indicator ---------------------------------------------------------------------------------------------
const typers = new Map(); // nickname -> expiry timer
function renderTyping() {
  const names = Array.from(typers.keys());
  let text = '';
  if (names.length === 1) text = names[0] + ' is typing…';
  else if (names.length === 2) text = names[0] + ' and ' + names[1] + ' are typing…';
  else if (names.length > 2) text = names.length + ' people are typing…';
  typingEl.textContent = text;
}
function setTyping(nickname, on) {
  if (!nickname) return;
  clearTimeout(typers.get(nickname));
  typers.delete(nickname);
  if (on) typers.set(nickname, setTimeout(() => { typers.delete(nickname); renderTyping(); }, 6000));
  renderTyping();
}
function clearTyping() {
  for (const timer of typers.values()) clearTimeout(timer);
  typers.clear();
  renderTyping();
}

let typingSent = false;
let typingTimer = 0;
function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSent) {
    typingSent = false;
    if (socket.connected) socket.emit('typing', false);
  }
}
input.addEventListener('input', () => {
  if (!input.value) { stopTyping(); return; }
  if (!typingSent && socket.connected) {
    typingSent = true;
    socket.emit('typing', true);
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 2500);
});
input.addEventListener('blur', stopTyping);

// --- sending (the tutorial's form) --------------------------------------------------------------------------------
form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (input.value.trim()) {
    stopTyping();
    socket.emit('chat message', input.value);
    input.value = '';
    if (!socket.connected) setConnection(connEl.dataset.state === 'reconnecting' ? 'reconnecting' : 'offline');
  }
});

// --- nickname -----------------------------------------------------------------------------------------------------
let pendingNickname = null;
function showNickStatus(text, kind) {
  nickStatus.textContent = text || '';
  nickStatus.dataset.kind = kind || '';
}
function adoptNickname(name) {
  chat.nickname = name;
  if (document.activeElement !== nickInput || !nickInput.value) nickInput.value = name;
}
function requestNickname(name, quiet) {
  name = name.trim();
  if (!name) { showNickStatus('A nickname cannot be empty.', 'error'); return; }
  if (name === chat.nickname) { showNickStatus(''); return; }
  if (!socket.connected) { showNickStatus('Offline: the nickname will be set once reconnected.'); chat.preferred = name; storeNickname(name); return; }
  pendingNickname = name;
  if (!quiet) showNickStatus('Saving…');
  socket.timeout(5000).emit('set nickname', name, (err, res) => {
    pendingNickname = null;
    if (err) { showNickStatus('No answer from the server; try again.', 'error'); return; }
    if (res && res.ok) {
      const now = typeof res.nickname === 'string' && res.nickname ? res.nickname : name;
      const old = chat.nickname;
      chat.preferred = now;
      storeNickname(now);
      if (old !== now) {
        adoptNickname(now);
        notice('You are now known as ' + now + '.');
      }
      showNickStatus('');
      nickInput.value = now;
    } else {
      const reason = res && res.error ? String(res.error) : 'refused';
      showNickStatus('Nickname not changed: ' + reason, 'error');
      if (quiet) { chat.preferred = ''; storeNickname(''); }
      nickInput.value = chat.nickname;
    }
  });
}
nickForm.addEventListener('submit', (e) => {
  e.preventDefault();
  requestNickname(nickInput.value, false);
});
nickInput.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') { nickInput.value = chat.nickname; showNickStatus(''); }
});

// --- server events ------------------------------------------------------------------------------------------------
socket.on('connect', () => {
  chat.connects += 1;
  chat.recovered = socket.recovered === true;
  if (chat.recovered) chat.ready = true; // same session: the server may or may not send a new welcome
  setConnection('connected');
  const engine = socket.io.engine;
  if (engine) engine.once('upgrade', () => { if (socket.connected) setConnection('connected'); });
  if (chat.connects > 1) {
    notice(socket.recovered ? 'Reconnected - caught up on the messages you missed.' : 'Reconnected.');
  }
});

socket.on('disconnect', (reason) => {
  chat.ready = false;
  chat.disconnects.push(reason);
  typingSent = false;
  clearTyping();
  setConnection(socket.active ? 'reconnecting' : 'offline', socket.active ? '' : reason);
  notice(socket.active ? 'Connection lost; reconnecting…' : 'Disconnected by the server.');
  if (!socket.active) {
    // The server closed this namespace on purpose ("io server disconnect"): the client does not retry by itself.
    setTimeout(() => { if (!socket.connected) socket.connect(); }, 3000);
  }
});

socket.on('connect_error', (err) => {
  setConnection(socket.active ? 'reconnecting' : 'offline', socket.active ? '' : (err && err.message));
});
socket.io.on('reconnect_attempt', (attempt) => setConnection('reconnecting', attempt));

socket.on('welcome', (data) => {
  data = data || {};
  const before = chat.nickname;
  if (typeof data.nickname === 'string') adoptNickname(data.nickname);
  if (before && chat.nickname !== before && !chat.preferred) notice('You are back as ' + chat.nickname + '.');
  setOnline(data.online);
  const history = Array.isArray(data.history) ? data.history : [];
  const fresh = history.filter((m) => m && !seen.has(messageKey(m)));
  if (fresh.length) {
    notice(fresh.length === 1 ? 'Recent message' : 'Recent messages', 'history');
    for (const m of fresh) addMessage(m.text, m);
  }
  chat.welcomes += 1;
  // (The welcome can come before the 'connect' event: the client delivers what arrived with the connect ack first.)
  if (chat.welcomes === 1) {
    notice('Welcome, ' + chat.nickname + '! ' + (chat.online === 1 ? 'You are the only one here.' : chat.online + ' people are here.'));
  }
  chat.ready = true;
  if (chat.preferred && chat.preferred !== chat.nickname) requestNickname(chat.preferred, true);
});

socket.on('chat message', (msg, meta) => {
  if (meta && meta.nickname) setTyping(meta.nickname, false);
  addMessage(msg, meta);
});

socket.on('user joined', (data) => {
  data = data || {};
  if (data.nickname) notice(data.nickname + ' joined.');
  setOnline(data.online);
});

socket.on('user left', (data) => {
  data = data || {};
  if (data.nickname) {
    setTyping(data.nickname, false);
    notice(data.nickname + ' left.');
  }
  setOnline(data.online);
});

socket.on('nickname changed', (data) => {
  data = data || {};
  const before = data.old;
  const after = data.new;
  if (!after) return;
  if (typers.has(before)) { setTyping(before, false); setTyping(after, true); }
  if (before === chat.nickname && pendingNickname === after) {
    // Our own change, broadcast before the ack came back: the ack handler says it.
    return;
  }
  if (after === chat.nickname) return; // our own change, already announced
  notice(before + ' is now known as ' + after + '.');
});

socket.on('typing', (data) => {
  data = data || {};
  if (data.nickname && data.nickname !== chat.nickname) setTyping(data.nickname, !!data.typing);
});

socket.on('online', (count) => setOnline(count));

input.focus();
</script>
</body>
</html>
"""#
}

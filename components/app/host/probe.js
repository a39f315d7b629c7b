// Health probe run on an app server (as the app's user, with any Node >= 12) by deploy.sh:
//   node -e "$(cat probe.js)" PORT PATH STATUS_LOW STATUS_HIGH BODY_CONTAINS MAIN_PID
// Exit 0 when the port's listener belongs to MAIN_PID (or one of its children) AND the health path
// answers a status in [LOW, HIGH] whose body contains BODY_CONTAINS (if not empty). Otherwise exit 1
// and print one line saying why. So an old or hand-run process holding the port never passes for the
// new release.
'use strict';
const fs = require('fs');
const http = require('http');

const [portText, path, lowText, highText, contains, mainPidText] = process.argv.slice(1);
const port = Number(portText);
const [low, high] = [Number(lowText), Number(highText)];

function notYet(reason) {
  console.log(reason);
  process.exit(1);
}

function listDir(dir) {
  try { return fs.readdirSync(dir); } catch (e) { return []; }
}

// Socket inodes listening on the port (IPv4 and IPv6).
function listeners() {
  const inodes = new Set();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A: LISTEN
      if (parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
    }
  }
  return inodes;
}

// pid -> parent pid, for every process.
function parents() {
  const map = new Map();
  for (const pid of listDir('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      map.set(pid, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch (e) { /* gone */ }
  }
  return map;
}

function socketsOf(pid) {
  const inodes = new Set();
  for (const fd of listDir(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch (e) { /* closed */ }
  }
  return inodes;
}

function describe(pid) {
  let cmd = '?';
  let user = '?';
  try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim(); } catch (e) { /* gone */ }
  try { user = String(fs.statSync(`/proc/${pid}`).uid); } catch (e) { /* gone */ }
  return `pid ${pid} \`${cmd.slice(0, 80)}\` of uid ${user}`;
}

function checkOwner() {
  const listening = listeners();
  if (listening.size === 0) notYet(`nothing listens on port ${port} yet`);
  const tree = parents();
  const ours = new Set([mainPidText]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of tree) {
      if (ours.has(ppid) && !ours.has(pid)) { ours.add(pid); grew = true; }
    }
  }
  for (const pid of ours) {
    for (const inode of socketsOf(pid)) if (listening.has(inode)) return;
  }
  for (const pid of tree.keys()) {
    for (const inode of socketsOf(pid)) {
      if (listening.has(inode)) notYet(`port ${port} is held by another process: ${describe(pid)}`);
    }
  }
  notYet(`port ${port} is held by a process that is not the app's (another user's?)`);
}

checkOwner();
const request = http.get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => { if (body.length < 65536) body += chunk; });
  res.on('end', () => {
    if (res.statusCode < low || res.statusCode > high) notYet(`GET ${path} answered ${res.statusCode}`);
    if (contains && !body.includes(contains)) notYet(`GET ${path} answered ${res.statusCode} without ${JSON.stringify(contains)}`);
    process.exit(0);
  });
});
request.on('timeout', () => { request.destroy(); notYet(`GET ${path} timed out`); });
request.on('error', (e) => notYet(`GET ${path} failed: ${e.code || e.message}`));

// Cairn console: plain JavaScript, no build step. Every call goes to the
// console's own /api, which signs S3 requests with the session's
// credentials on the server; the secret key never returns to this page.
// Text from the cluster (keys, names) is only ever set as text, never as
// HTML.
"use strict";

let session = null; // {accessKey, root, csrfToken, presign}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 4000);
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (session && method !== "GET") opts.headers["X-CSRF-Token"] = session.csrfToken;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  if (resp.status === 401 && path !== "/api/login") {
    session = null;
    showLogin();
    throw new Error("signed out");
  }
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new Error(data && data.code ? data.code + (data.message ? ": " + data.message : "") : resp.statusText);
  return data;
}

function fmtBytes(n) {
  if (n === undefined || n === null) return "-";
  const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}

function fmtTime(s) {
  if (!s) return "-";
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

function badge(state) { return el("span", { class: "badge state-" + state }, state); }

function bar(frac) {
  const fill = el("div", {});
  // A style property, not a style attribute: the page's CSP forbids those.
  fill.style.width = Math.round(Math.min(1, Math.max(0, frac)) * 100) + "%";
  return el("div", { class: "bar" }, fill);
}

function view(...children) {
  const v = document.getElementById("view");
  v.replaceChildren(...children.filter(c => c !== null && c !== undefined && c !== false));
  return v;
}

function showLogin() {
  document.getElementById("login-view").hidden = false;
  document.getElementById("view").replaceChildren();
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
}

function signedIn(s) {
  session = s;
  document.getElementById("login-view").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("nav-cluster").hidden = !s.root;
  document.getElementById("nav-users").hidden = !s.root;
  document.getElementById("who").textContent = s.accessKey + (s.root ? " (root)" : "");
  if (!location.hash || location.hash === "#/") location.hash = s.root ? "#/cluster" : "#/buckets";
  else route();
}

// --- cluster ---------------------------------------------------------------

let refreshTimer = null;
// uploads lists this bucket's uploads; it outlives the re-rendering of the
// listing, so finished uploads stay shown.
let uploads = { bucket: null, box: null };

async function renderCluster() {
  const o = await api("GET", "/api/cluster");
  const kids = [el("h1", {}, "Cluster ", badge(o.healthy ? "healthy" : "unhealthy"))];
  if (o.problems.length) kids.push(el("ul", { class: "problems", id: "problems" }, o.problems.map(p => el("li", {}, p))));
  const h = o.heal;
  kids.push(el("div", { class: "cards" },
    card("Raft leader", o.leader || "none", "leader"),
    card("Storage nodes", o.nodes.filter(n => n.state === "up").length + " / " + o.nodes.length + " up"),
    card("Capacity", fmtBytes(o.usedBytes) + " used", "capacity",
      fmtBytes(o.freeBytes) + " free of " + fmtBytes(o.capacityBytes) + " (sum over " + o.drives + " drives)",
      [o.capacityBytes ? bar(o.usedBytes / o.capacityBytes) : null, o.capacityNote ? el("div", { class: "hint small" }, o.capacityNote) : null]),
    card("Objects at risk", h ? String(h.bodiesAtRisk) : "?", "at-risk", h ? fmtBytes(h.bytesToRebuild) + " to rebuild" : o.healError),
    card("Repair", h ? (h.paused ? "paused" : h.scanning ? "scanning" : "running") : "?", null,
      h ? fmtBytes(h.bytesRebuilt) + " rebuilt, " + fmtBytes(h.rateBytesPerSecond) + "/s" + (h.etaSeconds > 0 ? ", ETA " + Math.round(h.etaSeconds) + " s" : "") : ""),
    card("GC backlog", h ? String(h.gcBacklog) : "?", null, h ? "scrub: " + h.scrubShardsVerified + " verified, " + h.scrubDamageFound + " damaged" : "")));
  if (h && h.levels.length) {
    kids.push(el("h2", {}, "Bodies below full redundancy"),
      el("table", {}, el("tr", {}, el("th", {}, "Surviving shards"), el("th", { class: "num" }, "Bodies")),
        h.levels.map(l => el("tr", {}, el("td", {}, l.surviving + " of " + l.of), el("td", { class: "num" }, l.bodies)))));
  }
  kids.push(...renderMembership(o));
  if (o.metaError || o.mapError) kids.push(el("p", { class: "error" }, o.metaError || "", " ", o.mapError || ""));
  kids.push(el("h2", {}, "Meta voters"), el("p", {}, o.voters.length ? o.voters.join(", ") : "-"));
  kids.push(el("h2", {}, "Storage nodes and drives"));
  const rows = [el("tr", {}, ["Node", "State", "Address", "Domain", "Drive", "Drive state", "Used", "Free", "Last heartbeat"].map(t => el("th", {}, t)))];
  for (const n of o.nodes) {
    const drives = n.drives.length ? n.drives : [null];
    drives.forEach((d, i) => {
      rows.push(el("tr", { "data-node": n.id, "data-state": n.state },
        el("td", {}, i ? "" : n.id), el("td", { class: "node-state" }, i ? "" : badge(n.state)),
        el("td", { class: "mono" }, i ? "" : n.addr), el("td", {}, i ? "" : (n.failureDomain || "-")),
        el("td", { class: "mono" }, d ? d.id.slice(0, 12) : "-"),
        el("td", {}, d ? [badge(d.state), d.fault ? " " + d.fault : ""] : "-"),
        el("td", {}, d ? [fmtBytes(d.capacityBytes - d.freeBytes), d.capacityBytes ? bar((d.capacityBytes - d.freeBytes) / d.capacityBytes) : ""] : "-"),
        el("td", {}, d ? fmtBytes(d.freeBytes) : "-"),
        el("td", {}, i ? "" : fmtTime(n.lastHeartbeat))));
    });
  }
  kids.push(el("table", { id: "nodes" }, rows));
  kids.push(el("p", { class: "hint" }, "Updated " + fmtTime(o.generated) + "; refreshes every 5 s."));
  view(...kids);
  refreshTimer = setTimeout(() => { if (location.hash === "#/cluster") renderCluster().catch(e => toast(e.message)); }, 5000);
}

// renderMembership shows drains (with a progress bar each), the
// rebalance and the nodes waiting for admission.
function renderMembership(o) {
  const out = [el("h2", {}, "Drains and rebalance")];
  if (o.pending.length) {
    out.push(el("p", { id: "pending" }, "Waiting for admission (cairn admin node add): ",
      o.pending.map((id, i) => [i ? ", " : "", badge("pending"), " ", id])));
  }
  const m = o.membership;
  if (!m) {
    out.push(el("p", { class: "error", id: "membership-error" }, o.membershipError || "membership status unavailable"));
    return out;
  }
  if (!m.scanned) out.push(el("p", { class: "hint" }, "The repairer has not finished its first scan yet; figures follow."));
  if (!m.drains.length) {
    out.push(el("p", { id: "drains-none" }, "No node or drive is draining."));
  } else {
    const rows = [el("tr", {}, ["Node", "Drive", "Progress", "Shards left", "Bytes left", "Moved", "Rate", "ETA"].map(t => el("th", {}, t)))];
    for (const d of m.drains) {
      const eta = d.noneLeft ? "-" : d.etaSeconds < 0 ? "unknown" : fmtDuration(d.etaSeconds);
      rows.push(el("tr", { "data-node": d.node, "data-drive": d.drive || "", "data-none-left": d.noneLeft ? "true" : "false" },
        el("td", {}, d.node, d.lost ? [" ", badge("down"), " rebuilding"] : ""),
        el("td", { class: "mono" }, d.drive ? d.drive.slice(0, 12) : "(all)"),
        el("td", {}, d.noneLeft
          ? el("span", { class: "hint" }, "no shards at the last scan (drained, or the drain began after it)")
          : [bar(d.fraction), Math.round(d.fraction * 100) + "%"]),
        el("td", { class: "num" }, d.shardsLeft), el("td", { class: "num" }, fmtBytes(d.bytesLeft)),
        el("td", { class: "num" }, fmtBytes(d.bytesMoved)), el("td", { class: "num" }, fmtBytes(d.rateBytesPerSecond) + "/s"),
        el("td", {}, eta)));
    }
    out.push(el("table", { id: "drains" }, rows));
  }
  const r = m.rebalance;
  out.push(el("p", { id: "rebalance", "data-running": r.running ? "true" : "false" }, "Rebalance: ",
    badge(r.running ? "running" : "stopped"), " band ±" + r.bandPercent + "% of each drive's share; ",
    r.balanced ? "balanced" : "not balanced", "; moved " + fmtBytes(r.bytesMoved) + " at " + fmtBytes(r.rateBytesPerSecond) + "/s"));
  return out;
}

function fmtDuration(s) {
  s = Math.round(s);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function card(label, value, id, sub, extra) {
  return el("div", { class: "card", id: id ? "card-" + id : null },
    el("div", { class: "label" }, label), el("div", { class: "value" }, value),
    sub ? el("div", { class: "hint" }, sub) : null, extra || null);
}

// --- buckets ---------------------------------------------------------------

async function renderBuckets() {
  const buckets = await api("GET", "/api/buckets");
  const name = el("input", { id: "new-bucket", placeholder: "new-bucket-name", pattern: "[a-z0-9.-]{3,63}" });
  const lock = el("input", { type: "checkbox", id: "new-bucket-lock" });
  const vers = el("input", { type: "checkbox", id: "new-bucket-versioning" });
  const form = el("form", { class: "row", id: "create-bucket", onsubmit: async ev => {
    ev.preventDefault();
    try {
      await api("POST", "/api/buckets", { name: name.value.trim(), objectLock: lock.checked, versioning: vers.checked });
      toast("Bucket " + name.value + " created");
      renderBuckets();
    } catch (e) { toast(e.message); }
  } }, name, el("label", {}, vers, " versioning"), el("label", {}, lock, " object lock"), el("button", { class: "primary", type: "submit" }, "Create bucket"));
  const rows = [el("tr", {}, el("th", {}, "Bucket"), el("th", {}, "Created"), el("th", {}, ""))];
  for (const b of buckets) {
    rows.push(el("tr", { "data-bucket": b.name },
      el("td", {}, el("a", { href: "#/b/" + encodeURIComponent(b.name) + "/", class: "folder" }, b.name)),
      el("td", {}, fmtTime(b.created)),
      el("td", {},
        el("a", { class: "button small", href: "#/settings/" + encodeURIComponent(b.name) }, "Settings"), " ",
        el("button", { class: "small danger", onclick: async () => {
          if (!confirm("Delete bucket " + b.name + "? It must be empty.")) return;
          try { await api("DELETE", "/api/buckets/" + encodeURIComponent(b.name)); renderBuckets(); } catch (e) { toast(e.message); }
        } }, "Delete"))));
  }
  view(el("h1", {}, "Buckets"), form, buckets.length ? el("table", { id: "buckets" }, rows) : el("p", { class: "hint" }, "No buckets yet."));
}

async function renderSettings(bucket) {
  const s = await api("GET", "/api/buckets/" + encodeURIComponent(bucket) + "/settings");
  const base = "/api/buckets/" + encodeURIComponent(bucket);
  const policy = el("textarea", { id: "policy", spellcheck: "false" }, s.policy ? pretty(s.policy) : "");
  const kids = [el("h1", {}, el("a", { href: "#/buckets", class: "folder" }, "Buckets"), " / ", bucket, " settings"),
    el("h2", {}, "Versioning"),
    el("div", { class: "row" }, el("span", { id: "versioning-state" }, s.versioning || "never enabled"),
      s.objectLock ? el("span", { class: "hint" }, "(object lock is on: versioning stays enabled)") :
        el("button", { onclick: async () => {
          try { await api("PUT", base + "/versioning", { enabled: s.versioning !== "Enabled" }); renderSettings(bucket); } catch (e) { toast(e.message); }
        } }, s.versioning === "Enabled" ? "Suspend versioning" : "Enable versioning")),
    el("h2", {}, "Object lock"), el("p", {}, s.objectLock ? "Enabled (set when the bucket was created)" : "Not enabled (it can only be turned on at creation)"),
    el("h2", {}, "Bucket policy"),
    s.policyError ? el("p", { class: "error" }, "Cannot read the policy: " + s.policyError) : null,
    policy,
    el("div", { class: "row" },
      el("button", { class: "primary", onclick: async () => {
        try { await api("PUT", base + "/policy", { policy: policy.value }); toast("Policy saved"); } catch (e) { toast(e.message); }
      } }, "Save policy"),
      el("button", { class: "danger", onclick: async () => {
        try { await api("DELETE", base + "/policy"); policy.value = ""; toast("Policy deleted"); } catch (e) { toast(e.message); }
      } }, "Delete policy"))];
  view(...kids);
}

function pretty(json) {
  try { return JSON.stringify(JSON.parse(json), null, 2); } catch (e) { return json; }
}

// --- objects ---------------------------------------------------------------

async function renderObjects(bucket, prefix, token) {
  const q = new URLSearchParams({ prefix });
  if (token) q.set("token", token);
  const base = "/api/buckets/" + encodeURIComponent(bucket);
  const res = await api("GET", base + "/objects?" + q);
  const crumbs = [el("a", { href: "#/buckets" }, "Buckets"), " / ", el("a", { href: objHash(bucket, "") }, bucket)];
  let acc = "";
  for (const part of prefix.split("/").filter(Boolean)) {
    acc += part + "/";
    crumbs.push(" / ", el("a", { href: objHash(bucket, acc) }, part));
  }
  const file = el("input", { type: "file", id: "upload-file", multiple: true });
  if (uploads.bucket !== bucket) uploads = { bucket, box: el("div", { id: "uploads" }) };
  const upForm = el("form", { class: "row", id: "upload-form", onsubmit: ev => {
    ev.preventDefault();
    for (const f of file.files) upload(bucket, prefix + f.name, f, uploads.box, () => renderObjects(bucket, prefix));
    file.value = "";
  } }, file, el("button", { type: "submit", class: "primary", id: "upload-submit" }, "Upload"));
  const folder = el("input", { placeholder: "new folder", id: "new-folder" });
  const folderForm = el("form", { class: "row", onsubmit: ev => {
    ev.preventDefault();
    const f = folder.value.trim().replace(/^\/+|\/+$/g, "");
    if (f) location.hash = objHash(bucket, prefix + f + "/");
  } }, folder, el("button", { type: "submit" }, "Open folder"), el("span", { class: "hint" }, "(a folder exists once something is uploaded into it)"));
  const rows = [el("tr", {}, ["Name", "Size", "Last modified", ""].map(t => el("th", {}, t)))];
  for (const f of res.folders) {
    rows.push(el("tr", {}, el("td", {}, el("a", { class: "folder", href: objHash(bucket, f) }, f.slice(prefix.length))), el("td", {}, "-"), el("td", {}, ""), el("td", {}, "")));
  }
  for (const o of res.objects) {
    const dl = base + "/object?" + new URLSearchParams({ key: o.key });
    rows.push(el("tr", { "data-key": o.key },
      el("td", {}, o.key.slice(prefix.length)),
      el("td", { class: "num" }, fmtBytes(o.size)),
      el("td", {}, fmtTime(o.lastModified)),
      el("td", {},
        el("a", { class: "button small download", href: dl, download: o.key.slice(prefix.length) }, "Download"), " ",
        el("button", { class: "small", onclick: () => showVersions(bucket, o.key) }, "Versions"), " ",
        session.presign ? el("button", { class: "small", onclick: () => presign(bucket, o.key) }, "Share link") : null, " ",
        el("button", { class: "small danger", onclick: async () => {
          if (!confirm("Delete " + o.key + "?")) return;
          try { await api("DELETE", base + "/object?" + new URLSearchParams({ key: o.key })); renderObjects(bucket, prefix); } catch (e) { toast(e.message); }
        } }, "Delete"))));
  }
  const kids = [el("h1", { class: "crumbs" }, crumbs), upForm, uploads.box, folderForm,
    el("table", { id: "objects" }, rows),
    res.folders.length + res.objects.length === 0 ? el("p", { class: "hint" }, "Empty.") : null,
    res.nextToken ? el("button", { onclick: () => renderObjects(bucket, prefix, res.nextToken) }, "Next page") : null,
    el("div", { id: "detail" })];
  view(...kids);
}

function objHash(bucket, prefix) {
  return "#/b/" + encodeURIComponent(bucket) + "/" + prefix.split("/").map(encodeURIComponent).join("/");
}

// upload sends the file as the request body: the console streams it into
// a PutObject, and the XHR's upload events give the progress.
function upload(bucket, key, f, box, done) {
  const prog = el("progress", { max: 100, value: 0 });
  const label = el("span", {}, " 0%");
  const row = el("div", { class: "upload", "data-key": key }, key + " (" + fmtBytes(f.size) + ") ", prog, label);
  box.append(row);
  const xhr = new XMLHttpRequest();
  xhr.open("PUT", "/api/buckets/" + encodeURIComponent(bucket) + "/object?" + new URLSearchParams({ key }));
  xhr.setRequestHeader("X-CSRF-Token", session.csrfToken);
  if (f.type) xhr.setRequestHeader("Content-Type", f.type);
  xhr.upload.onprogress = ev => {
    if (ev.lengthComputable) { prog.value = 100 * ev.loaded / ev.total; label.textContent = " " + Math.floor(prog.value) + "%"; }
  };
  xhr.onload = () => {
    if (xhr.status >= 200 && xhr.status < 300) { prog.value = 100; label.textContent = " done"; row.classList.add("done"); done(); }
    else { let m = xhr.statusText; try { const d = JSON.parse(xhr.responseText); m = d.code + ": " + d.message; } catch (e) {} label.textContent = " failed: " + m; label.className = "error"; }
  };
  xhr.onerror = () => { label.textContent = " failed: network error"; label.className = "error"; };
  xhr.send(f);
}

async function showVersions(bucket, key) {
  const base = "/api/buckets/" + encodeURIComponent(bucket);
  const vs = await api("GET", base + "/versions?" + new URLSearchParams({ key }));
  const rows = [el("tr", {}, ["Version", "Latest", "Size", "Last modified", ""].map(t => el("th", {}, t)))];
  for (const v of vs) {
    rows.push(el("tr", {}, el("td", { class: "mono" }, v.versionId + (v.deleteMarker ? " (delete marker)" : "")),
      el("td", {}, v.latest ? "yes" : ""), el("td", { class: "num" }, v.deleteMarker ? "-" : fmtBytes(v.size)), el("td", {}, fmtTime(v.lastModified)),
      el("td", {}, v.deleteMarker ? "" : el("a", { class: "button small", href: base + "/object?" + new URLSearchParams({ key, versionId: v.versionId }) }, "Download"), " ",
        el("button", { class: "small danger", onclick: async () => {
          if (!confirm("Delete this version for good?")) return;
          try { await api("DELETE", base + "/object?" + new URLSearchParams({ key, versionId: v.versionId })); showVersions(bucket, key); } catch (e) { toast(e.message); }
        } }, "Delete"))));
  }
  document.getElementById("detail").replaceChildren(el("h2", {}, "Versions of " + key), el("table", { id: "versions" }, rows));
}

async function presign(bucket, key) {
  const secs = parseInt(prompt("Link valid for how many seconds? (up to 604800)", "3600"), 10);
  if (!secs) return;
  try {
    const r = await api("POST", "/api/buckets/" + encodeURIComponent(bucket) + "/presign", { key, seconds: secs });
    document.getElementById("detail").replaceChildren(el("h2", {}, "Share link for " + key),
      el("p", { class: "mono", id: "presigned" }, r.url), el("p", { class: "hint" }, "Anyone with this link can download the object until " + fmtTime(r.expires) + "."));
  } catch (e) { toast(e.message); }
}

// --- users -----------------------------------------------------------------

async function renderUsers() {
  const users = await api("GET", "/api/users");
  const name = el("input", { id: "new-user", placeholder: "display name", required: true });
  const out = el("div", { id: "new-user-keys" });
  const form = el("form", { class: "row", onsubmit: async ev => {
    ev.preventDefault();
    try {
      const u = await api("POST", "/api/users", { name: name.value.trim() });
      await renderUsers();
      document.getElementById("new-user-keys").replaceChildren(el("div", { class: "card" },
        el("strong", {}, "User " + u.name + " created. Keep the secret key now: it is not shown again."),
        el("p", { class: "mono" }, "Access key: " + u.accessKey), el("p", { class: "mono" }, "Secret key: " + u.secretKey)));
    } catch (e) { toast(e.message); }
  } }, name, el("button", { class: "primary", type: "submit" }, "Create user"));
  const rows = [el("tr", {}, ["Access key", "Name", "Canonical ID", "Created", ""].map(t => el("th", {}, t)))];
  for (const u of users) {
    rows.push(el("tr", {}, el("td", { class: "mono" }, u.accessKey), el("td", {}, u.name), el("td", { class: "mono" }, u.canonicalId.slice(0, 16) + "…"),
      el("td", {}, fmtTime(u.created)),
      el("td", {}, el("button", { class: "small danger", onclick: async () => {
        if (!confirm("Delete user " + u.name + "? Their keys stop working within seconds.")) return;
        try { await api("DELETE", "/api/users/" + encodeURIComponent(u.accessKey)); renderUsers(); } catch (e) { toast(e.message); }
      } }, "Delete"))));
  }
  view(el("h1", {}, "Users"), form, out, el("table", { id: "users" }, rows));
}

// --- routing ---------------------------------------------------------------

async function route() {
  if (!session) return;
  clearTimeout(refreshTimer);
  const h = location.hash || "#/";
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", h.startsWith(a.getAttribute("href")));
  try {
    if (h.startsWith("#/cluster")) await renderCluster();
    else if (h.startsWith("#/users")) await renderUsers();
    else if (h.startsWith("#/settings/")) await renderSettings(decodeURIComponent(h.slice(11)));
    else if (h.startsWith("#/b/")) {
      const rest = h.slice(4);
      const i = rest.indexOf("/");
      const bucket = decodeURIComponent(i < 0 ? rest : rest.slice(0, i));
      const prefix = i < 0 ? "" : rest.slice(i + 1).split("/").map(decodeURIComponent).join("/");
      document.getElementById("nav-buckets").classList.add("active");
      await renderObjects(bucket, prefix);
    } else await renderBuckets();
  } catch (e) {
    if (e.message !== "signed out") view(el("p", { class: "error", id: "view-error" }, e.message));
  }
}

window.addEventListener("hashchange", route);

document.getElementById("login-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.textContent = "";
  try {
    const s = await api("POST", "/api/login", {
      accessKey: document.getElementById("access-key").value.trim(),
      secretKey: document.getElementById("secret-key").value,
    });
    document.getElementById("secret-key").value = "";
    signedIn(s);
  } catch (e) { err.textContent = e.message; }
});

document.getElementById("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } catch (e) {}
  session = null;
  location.hash = "";
  showLogin();
});

api("GET", "/api/session").then(signedIn).catch(() => showLogin());

/// `GET /`: one self-contained page (no CDN, no external file) that shows the server's jobs from
/// the job API, refreshed every 2 s: per collection the units (segments or groups), rows and
/// bytes by phase with progress bars, throughput over time, the ETA and any errors. It holds no
/// data itself; with a token set, it reads it from the address's fragment (`/#token=…`, never
/// sent to the server) or asks for it, and sends it with every API call.
/// Elements carry `data-*` attributes with the raw figures, so a test can read what the page shows.
enum StatusPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>milvus-migration</title>
<style>
  :root { --fg:#1d2433; --muted:#6b7280; --line:#e5e7eb; --ok:#15803d; --bad:#b91c1c; --run:#1d4ed8; --bar:#3b82f6; --bg:#f8fafc; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 14px 24px; background: #0f172a; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #cbd5e1; }
  main { padding: 16px 24px; max-width: 1200px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .bar { position: relative; height: 14px; background: #e2e8f0; border-radius: 7px; overflow: hidden; min-width: 160px; }
  .bar > div { height: 100%; background: var(--bar); }
  .status-success { color: var(--ok); font-weight: 600; }
  .status-fail { color: var(--bad); font-weight: 600; }
  .status-running, .status-init { color: var(--run); font-weight: 600; }
  .phases span { display: inline-block; margin-right: 8px; color: var(--muted); }
  .phases b { color: var(--fg); }
  .kv { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px 18px; }
  .kv div small { display: block; color: var(--muted); font-size: 12px; }
  .kv div b { font-size: 16px; }
  #errors li { color: var(--bad); }
  #jobs tr { cursor: pointer; }
  #jobs tr.selected { background: #eff6ff; }
  svg { width: 100%; height: 160px; background: #fcfdff; border: 1px solid var(--line); border-radius: 6px; }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<header><h1>milvus-migration</h1><span id="server-state">connecting…</span></header>
<main>
  <section id="job" data-job-id="" data-status="">
    <h2>Job <span id="job-id" class="muted">none yet</span> <span id="job-status"></span></h2>
    <div class="bar" title="units done"><div id="job-bar" style="width:0%"></div></div>
    <p id="job-msg" class="muted"></p>
    <div class="kv">
      <div><small>progress</small><b id="job-percent">0%</b></div>
      <div><small>units done</small><b id="job-tasks">0 / 0</b></div>
      <div><small>rows done</small><b id="job-rows">0</b></div>
      <div><small>bytes done</small><b id="job-bytes">0 B</b></div>
      <div><small>elapsed</small><b id="job-elapsed">–</b></div>
      <div><small>ETA</small><b id="job-eta">–</b></div>
      <div><small>throughput now</small><b id="job-rate">–</b></div>
    </div>
  </section>
  <section>
    <h2>Collections</h2>
    <table>
      <thead><tr><th>1.x collection</th><th>2.x collection</th><th>progress</th><th class="num">units</th><th class="num">rows done / total</th><th class="num">bytes</th><th>units by phase</th></tr></thead>
      <tbody id="collections"><tr><td colspan="7" class="muted">no job yet</td></tr></tbody>
    </table>
  </section>
  <section>
    <h2>Throughput over time <span class="muted">(MB/s of units done, and of bytes moved)</span></h2>
    <svg id="chart" viewBox="0 0 600 160" preserveAspectRatio="none"></svg>
  </section>
  <section>
    <h2>Errors</h2>
    <ul id="errors"><li class="muted" style="color:var(--muted)">none</li></ul>
  </section>
  <section>
    <h2>Jobs</h2>
    <table>
      <thead><tr><th>job</th><th>kind</th><th>status</th><th class="num">progress</th><th>created</th><th>message</th></tr></thead>
      <tbody id="jobs"></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.hash.slice(1));
let token = params.get("token") || sessionStorage.getItem("mm-token") || "";
if (params.get("token")) sessionStorage.setItem("mm-token", token);
let selected = new URLSearchParams(location.search).get("jobId");

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
const num = (n) => Number(n || 0).toLocaleString("en-US");
function bytes(n) {
  n = Number(n || 0);
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n.toFixed(0)) + " " + units[i];
}
function duration(s) {
  if (s == null || !isFinite(s)) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + r + "s";
}

async function api(path) {
  const headers = token ? { "Authorization": "Bearer " + token } : {};
  const res = await fetch(path, { headers, cache: "no-store" });
  if (res.status === 401) {
    const given = prompt("This server needs its bearer token:");
    if (given) { token = given; sessionStorage.setItem("mm-token", token); }
    throw new Error("unauthorized");
  }
  const body = await res.json();
  if (body.code !== 0) throw new Error(body.msg);
  return body.data;
}

function drawJob(job) {
  const d = job.detail || { collections: [], samples: [], unitErrors: [] };
  const section = $("job");
  section.dataset.jobId = job.jobId;
  section.dataset.status = job.jobStatus;
  section.dataset.totalTasks = job.totalTasks;
  section.dataset.finishTasks = job.finishTasks;
  section.dataset.doneRows = d.doneRows || 0;
  section.dataset.totalRows = d.totalRows || 0;
  $("job-id").textContent = job.jobId + " (" + job.kind + ")";
  $("job-status").textContent = job.jobStatus;
  $("job-status").className = "status-" + job.jobStatus;
  $("job-bar").style.width = job.jobProcess + "%";
  $("job-msg").textContent = job.msg && job.msg !== "success" ? job.msg : (job.summary ? "" : "");
  $("job-percent").textContent = job.jobProcess + "%";
  $("job-tasks").textContent = job.finishTasks + " / " + job.totalTasks;
  $("job-rows").textContent = num(d.doneRows) + " / " + num(d.totalRows);
  $("job-bytes").textContent = bytes(d.doneBytes) + " / " + bytes(d.totalBytes);
  $("job-elapsed").textContent = duration(d.elapsedSeconds);
  $("job-eta").textContent = job.jobStatus === "running" ? duration(d.etaSeconds) : "–";
  const s = d.samples || [];
  if (s.length >= 2) {
    const a = s[Math.max(0, s.length - 4)], b = s[s.length - 1];
    const rate = (b.movedBytes - a.movedBytes) / Math.max(0.001, b.seconds - a.seconds);
    $("job-rate").textContent = (rate / 1e6).toFixed(1) + " MB/s";
  }

  const rows = (d.collections || []).map((c) => {
    const pct = c.units ? Math.round(100 * c.doneUnits / c.units) : 0;
    const phases = Object.keys(c.unitsByPhase || {}).sort().map((p) => "<span>" + esc(p) + " <b>" + c.unitsByPhase[p] + "</b></span>").join("");
    return "<tr data-collection=\"" + esc(c.name) + "\" data-target=\"" + esc(c.target) + "\" data-units=\"" + c.units +
      "\" data-done-units=\"" + c.doneUnits + "\" data-rows=\"" + c.rows + "\" data-done-rows=\"" + c.doneRows +
      "\" data-bytes=\"" + c.bytes + "\" data-done-bytes=\"" + c.doneBytes + "\">" +
      "<td>" + esc(c.name) + "</td><td>" + esc(c.target) + "</td>" +
      "<td><div class=\"bar\"><div style=\"width:" + pct + "%\"></div></div></td>" +
      "<td class=\"num\">" + c.doneUnits + " / " + c.units + "</td>" +
      "<td class=\"num\">" + num(c.doneRows) + " / " + num(c.rows) + "</td>" +
      "<td class=\"num\">" + bytes(c.doneBytes) + " / " + bytes(c.bytes) + "</td>" +
      "<td class=\"phases\">" + phases + "</td></tr>";
  });
  $("collections").innerHTML = rows.length ? rows.join("") : "<tr><td colspan=\"7\" class=\"muted\">no units yet</td></tr>";

  const errors = (d.unitErrors || []).map((e) => "<li data-unit=\"" + esc(e.unit) + "\">" + esc(e.unit) + ": " + esc(e.message) + "</li>");
  if (job.jobStatus === "fail" && job.msg) errors.unshift("<li data-job-error=\"1\">" + esc(job.msg) + "</li>");
  $("errors").innerHTML = errors.length ? errors.join("") : "<li class=\"muted\" style=\"color:var(--muted)\">none</li>";
  drawChart(s);
}

function drawChart(samples) {
  const svg = $("chart");
  if (samples.length < 2) { svg.innerHTML = "<text x=\"10\" y=\"20\" fill=\"#6b7280\">collecting samples…</text>"; return; }
  const pts = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i], dt = Math.max(0.001, b.seconds - a.seconds);
    pts.push({ t: b.seconds, done: (b.doneBytes - a.doneBytes) / dt / 1e6, moved: (b.movedBytes - a.movedBytes) / dt / 1e6 });
  }
  const tMax = Math.max(1, pts[pts.length - 1].t), yMax = Math.max(0.1, ...pts.map((p) => Math.max(p.done, p.moved)));
  const line = (key) => pts.map((p) => (600 * p.t / tMax).toFixed(1) + "," + (150 - 140 * p[key] / yMax).toFixed(1)).join(" ");
  svg.innerHTML = "<polyline fill=\"none\" stroke=\"#94a3b8\" stroke-width=\"1.5\" points=\"" + line("moved") + "\"/>" +
    "<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"" + line("done") + "\"/>" +
    "<text x=\"6\" y=\"14\" fill=\"#6b7280\" font-size=\"11\">" + yMax.toFixed(1) + " MB/s</text>" +
    "<text x=\"560\" y=\"156\" fill=\"#6b7280\" font-size=\"11\">" + duration(tMax) + "</text>";
}

function drawJobs(jobs) {
  $("jobs").innerHTML = jobs.map((j) => "<tr data-job=\"" + esc(j.jobId) + "\" class=\"" + (j.jobId === selected ? "selected" : "") + "\">" +
    "<td>" + esc(j.jobId) + "</td><td>" + esc(j.kind) + "</td><td class=\"status-" + esc(j.jobStatus) + "\">" + esc(j.jobStatus) + "</td>" +
    "<td class=\"num\">" + j.jobProcess + "%</td><td>" + esc(j.created) + "</td><td>" + esc(j.msg) + "</td></tr>").join("");
  for (const tr of $("jobs").querySelectorAll("tr")) tr.onclick = () => { selected = tr.dataset.job; refresh(); };
}

async function refresh() {
  try {
    const jobs = await api("/api/v1/jobs");
    drawJobs(jobs);
    const id = selected || (jobs[0] && jobs[0].jobId);
    if (id) drawJob(await api("/api/v1/get_job?jobId=" + encodeURIComponent(id)));
    $("server-state").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "1";
  } catch (e) {
    $("server-state").textContent = "error: " + e.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""#
}

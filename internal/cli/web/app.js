// The drover dashboard: renders the view kubectl drover dashboard builds (GET /api/view,
// then every change over server-sent events from /api/events) and sends the rollout
// commands the user confirms (POST /api/command). Everything a tenant wrote reaches the
// page as text (textContent), never as markup.
"use strict";

const palette = ["#2f9e6f", "#9f5fc0", "#c2417a", "#3a9fb0", "#8a8f2e", "#7c5a3a", "#6b6f7a"]; // none the paths' blue or orange

// el builds an element: attrs are attributes (class, data-*, title…); children are nodes
// or strings (as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "style") { Object.assign(e.style, v); continue; }
    e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const badge = (text, cls) => el("span", { class: "badge " + (cls || text) }, text);
const short = (rev) => (rev || "").slice(0, 10);
const pct = (x) => (Math.round(x * 10) / 10) + "%";
const w = (x) => (x === undefined || x === null ? "–" : String(x));

function versionColors(set) {
  const versions = [...new Set(set.prods.map((p) => p.version || "?"))].sort();
  const m = new Map();
  versions.forEach((v, i) => m.set(v, palette[i % palette.length]));
  return m;
}

// The service's traffic as one bar: each Prod's share, in its version's colour.
function shareBar(prods, field, colors, label) {
  const segs = prods.filter((p) => p[field] > 0).map((p) =>
    el("div", { class: "seg", "data-prod": p.name, title: `${p.name} (${p.version}): ${pct(p[field])}`,
      style: { width: p[field] + "%", background: colors.get(p.version || "?") } }, `${p.name} ${pct(p[field])}`));
  return [el("span", { class: "muted" }, label),
    el("div", { class: "bar", "data-bar": field }, segs.length ? segs : el("span", { class: "empty" }, "no weight"))];
}

function prodTile(p, colors) {
  const moving = p.pending !== undefined || p.published === undefined || p.published !== p.desired;
  const weights = el("div", { class: "weights" }, "DNS ", el("b", {}, w(p.published)),
    moving ? [el("span", { class: "arrow" }, " → "), "desired ", el("b", {}, w(p.desired))] : [],
    p.pending !== undefined ? el("span", { class: "muted" }, ` (submitted ${p.pending})`) : "",
    ` · ${pct(p.publishedShare)} of the service`);
  let paths = el("div", { class: "paths-label" }, "no endpoint yet");
  if (p.paths) {
    const total = p.paths.octavia + p.paths.nlb || 1;
    paths = [
      el("div", { class: "paths", title: "Octavia VIP / NLB" },
        el("div", { class: "octavia", style: { width: (100 * p.paths.octavia / total) + "%" } }),
        el("div", { class: "nlb", style: { width: (100 * p.paths.nlb / total) + "%" } })),
      el("div", { class: "paths-label", "data-paths": "" },
        `Octavia ${p.paths.octavia}${p.paths.octaviaStatus ? " (" + p.paths.octaviaStatus + ")" : ""} · NLB ${p.paths.nlb}` +
        (p.paths.nlbTargets ? ` (${p.paths.nlbHealthy}/${p.paths.nlbTargets} healthy)` : "") +
        (p.paths.inFlight ? " · change in flight" : "")),
      p.publishedShare > 0 ? el("div", { class: "paths-label", "data-path-shares": "" },
        `of the service: ${pct(p.publishedShare * p.paths.octavia / total)} via Octavia · ${pct(p.publishedShare * p.paths.nlb / total)} via NLB`) : "",
      p.paths.note ? el("div", { class: "paths-label" }, p.paths.note) : "",
    ];
  }
  return el("div", { class: "prod", "data-prod": p.name, style: { borderLeftColor: colors.get(p.version || "?") } },
    el("div", { class: "name" }, p.name), el("div", {}, p.version || "", " ", badge(p.state)),
    weights, paths,
    p.evicted ? el("div", { class: "paths-label" }, "evicted: " + p.evicted) : "",
    p.held ? el("div", { class: "paths-label" }, "held: " + p.held) : "");
}

function trafficSection(set, colors) {
  const t = set.traffic;
  const prods = t.regions.flatMap((r) => r.clusters.flatMap((c) => c.prods));
  const bars = el("div", { class: "bars" }, shareBar(prods, "publishedShare", colors, "DNS now"),
    t.inFlight ? shareBar(prods, "desiredShare", colors, "desired") : []);
  const regions = t.regions.map((r) => el("div", { class: "region", "data-region": r.region || "unknown" },
    el("div", { class: "label" }, `region ${r.region || "unknown"} · DNS ${r.published} of ${t.published}`),
    el("div", { class: "clusters" }, r.clusters.map((c) => el("div", { class: "cluster", "data-cluster": c.cluster },
      el("div", { class: "label" }, `cluster ${c.cluster} · DNS ${c.published}`),
      el("div", { class: "prods" }, c.prods.map((p) => prodTile(p, colors))))))));
  const legend = el("div", { class: "legend" }, [...colors].map(([v, c]) => el("span", {}, el("span", { class: "swatch", style: { background: c } }), v)),
    el("span", {}, el("span", { class: "swatch", style: { background: "var(--octavia)" } }), "Octavia VIP"),
    el("span", {}, el("span", { class: "swatch", style: { background: "var(--nlb)" } }), "NLB"));
  return el("div", { class: "traffic", "data-in-flight": t.inFlight ? "true" : "false" },
    el("h3", {}, "Traffic ", t.inFlight ? el("span", { class: "badge warn" }, "change in flight") : ""),
    bars, legend, el("div", { class: "topology" }, regions));
}

function judgement(b) {
  if (!b || !b.metrics || !b.metrics.length) return "";
  return el("table", { class: "judgement" },
    el("thead", {}, el("tr", {}, ["metric", "verdict", "canary", "baseline", "samples", "p-value"].map((h) => el("th", {}, h)))),
    el("tbody", {}, b.metrics.map((m) => el("tr", {}, el("td", {}, m.name), el("td", {}, badge(m.verdict, m.verdict === "Pass" ? "ok" : m.verdict === "Fail" ? "bad" : "warn")),
      el("td", {}, m.canaryMean || "–"), el("td", {}, m.baselineMean || "–"),
      el("td", {}, `${m.canarySamples}/${m.baselineSamples}`), el("td", {}, m.pValue || "–")))));
}

function rolloutSection(set) {
  const ro = set.rollout;
  if (!set.policy) return el("div", { class: "rollout" }, el("h3", {}, "Rollout"), el("p", { class: "empty-note" }, "No RolloutPolicy: every Prod takes a new template at once."));
  const head = el("h3", {}, "Rollout ", ro ? badge(ro.phase) : badge("none yet", "Unknown"), " ",
    el("span", { class: "muted" }, `policy ${set.policy}`, ro ? ` · ${short(ro.previousRevision)} → ${short(ro.revision)}` : ""));
  const steps = el("ol", { class: "steps" }, set.steps.map((s) => el("li", { class: s.state, "data-step": s.index, "data-state": s.state },
    el("div", {}, el("b", {}, `${s.index + 1}. ${s.name}`), " ", badge(s.state)),
    el("div", { class: "step-prods" }, s.takes, s.gates ? ` · ${s.gates} gate${s.gates > 1 ? "s" : ""}` : ""),
    s.prods && s.prods.length ? el("div", { class: "step-prods" }, s.prods.map((p) => `${p.name} ${p.phase}${p.failed ? " (failed)" : ""}`).join(", ")) : "")));
  const parts = [head, steps];
  if (ro && ro.message && (ro.phase === "Progressing" || ro.phase === "Paused" || ro.phase === "RollingBack" || ro.phase === "RolledBack")) {
    parts.push(el("div", { class: "waits", "data-waits": "" }, ro.phase === "Progressing" ? "Waits for: " : "", ro.message));
  }
  if (ro && ro.promoted) parts.push(el("div", { class: "muted" }, "promoted: the step's gates pass when reached"));
  if (set.pendingCommand) parts.push(el("div", { class: "muted" }, `command not read by drover yet: ${set.pendingCommand}`));
  if (ro && ro.gates && ro.gates.length) {
    parts.push(el("ul", { class: "gates" }, ro.gates.map((g) => el("li", { "data-gate": g.index },
      `gate ${g.index + 1} ${g.type}: `, badge(g.verdict || "waiting", g.verdict || "waiting-gate"),
      g.message ? el("span", { class: "muted" }, " " + g.message) : "", judgement(g.baseline)))));
  }
  parts.push(commandButtons(set));
  return el("div", { class: "rollout" }, parts);
}

function commandButtons(set) {
  const out = el("output", { class: "command-result" });
  const buttons = set.commands.map((c) => {
    const b = el("button", { type: "button", "data-verb": c.verb, title: c.text, disabled: !c.applies }, c.verb);
    b.addEventListener("click", () => confirmCommand(set, c, out));
    return b;
  });
  return el("div", { class: "commands" }, buttons, out);
}

// confirmCommand asks before sending, saying what the command will do.
function confirmCommand(set, c, out) {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = `${c.verb} the rollout of ${set.namespace}/${set.name}?`;
  document.getElementById("confirm-text").textContent = c.text;
  const send = document.getElementById("confirm-send");
  const cancel = document.getElementById("confirm-cancel");
  const close = () => { send.onclick = null; cancel.onclick = null; d.close(); };
  cancel.onclick = close;
  send.onclick = async () => {
    close();
    out.className = "command-result";
    out.textContent = `sending ${c.verb}…`;
    try {
      const r = await fetch("/api/command", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ namespace: set.namespace, name: set.name, verb: c.verb }) });
      const res = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      out.textContent = (res.output || "") + (res.error ? "error: " + res.error : "");
      if (res.error) out.className = "command-result error";
    } catch (e) {
      out.className = "command-result error";
      out.textContent = "error: " + e;
    }
  };
  d.showModal();
}

function timeline(set) {
  const rels = set.releases;
  if (!rels.length) return el("div", { class: "releases" }, el("h3", {}, "Releases"), el("p", { class: "empty-note" }, "No release recorded yet."));
  const now = Date.now();
  const start = Math.min(...rels.map((r) => Date.parse(r.started)));
  const end = Math.max(now, ...rels.map((r) => (r.finished ? Date.parse(r.finished) : now)));
  const span = Math.max(end - start, 1000);
  const ordered = [...rels].reverse(); // oldest first, top to bottom
  const rows = ordered.map((r) => {
    const s = Date.parse(r.started), f = r.finished ? Date.parse(r.finished) : now;
    return el("div", { class: "tl-row", "data-release": r.name },
      el("div", { class: "tl-label", title: r.name }, `${short(r.revision)} ${r.version || ""}`),
      el("div", { class: "tl-track" }, el("div", {
        class: "tl-bar " + (r.running ? "running" : r.outcome), title: `${r.outcome}: ${r.started} – ${r.finished || "now"}`,
        style: { left: (100 * (s - start) / span) + "%", width: (100 * (f - s) / span) + "%" } })));
  });
  const list = el("ul", { class: "releases" }, rels.map((r) => el("li", { "data-release": r.name },
    badge(r.outcome, r.running ? "Progressing" : r.outcome), ` ${short(r.revision)} ${r.version || ""} · ${r.steps} step${r.steps === 1 ? "" : "s"} · started ${r.started}`,
    r.startedBy ? ` by ${r.startedBy}` : "", r.finished ? ` · ended ${r.finished}` : "", r.endedBy ? ` by ${r.endedBy}` : "",
    r.rollbackLatency ? ` · rollback in ${r.rollbackLatency}` : "",
    r.message && !r.running ? el("div", { class: "muted" }, r.message) : "", // a running one's is in the rollout above
    r.commands && r.commands.length ? el("div", { class: "muted" }, "commands: " + r.commands.join("; ")) : "")));
  return el("div", { class: "releases" }, el("h3", {}, "Releases"),
    el("div", { class: "timeline" }, rows, el("div", { class: "tl-axis" }, el("span", {}, new Date(start).toISOString()), el("span", {}, new Date(end).toISOString()))),
    list);
}

function setCard(set) {
  const colors = versionColors(set);
  const conds = set.conditions && set.conditions.length
    ? el("ul", { class: "conditions" }, set.conditions.map((c) => el("li", {}, `${c.type} ${c.status}: ${c.reason || ""} ${c.message || ""}`))) : "";
  return el("article", { class: "set", "data-set": `${set.namespace}/${set.name}` },
    el("div", { class: "set-head" }, el("h2", {}, `${set.namespace}/${set.name}`), badge(set.version, "info"),
      el("span", { class: "muted" }, `${set.servingReplicas} of ${set.replicas} serving · ${set.availableReplicas} available · minimum ${set.minServing}`)),
    conds, trafficSection(set, colors), rolloutSection(set), timeline(set));
}

function render(v) {
  document.getElementById("scope").textContent = v.scope;
  document.getElementById("updated").textContent = "updated " + new Date(v.time).toLocaleTimeString();
  const hidden = document.getElementById("hidden");
  hidden.hidden = !v.hidden.length;
  document.getElementById("hidden-list").replaceChildren(...v.hidden.map((h) => el("li", {}, h)));
  const sets = document.getElementById("sets");
  // Keep what the user typed or read in a command's result across a re-render.
  const results = new Map([...sets.querySelectorAll("article.set")].map((a) => [a.dataset.set, a.querySelector(".command-result")]));
  sets.replaceChildren(...(v.prodSets.length ? v.prodSets.map(setCard) : [el("section", { class: "empty-note", id: "no-sets" }, "No ProdSets to show.")]));
  for (const a of sets.querySelectorAll("article.set")) {
    const old = results.get(a.dataset.set);
    if (old && old.textContent) a.querySelector(".command-result").replaceWith(old);
  }
  document.querySelector("#clusters tbody").replaceChildren(...v.clusters.map((c) => el("tr", { "data-cluster": `${c.namespace}/${c.name}` },
    el("td", {}, c.name, c.inferred ? el("span", { class: "muted", title: "known from its Prods: your credentials may not list Cluster API Clusters" }, " *") : ""),
    el("td", {}, c.region || "–"),
    el("td", {}, badge(c.reachable === "True" ? "yes" : c.reachable === "False" ? "no" : "unknown", c.reachable), c.reachable === "False" ? el("span", { class: "muted" }, " " + c.reachableReason) : ""),
    el("td", {}, c.maintenances && c.maintenances.length ? c.maintenances.map((m) => [badge(`${m.name}: ${m.deleted ? "restoring" : m.phase || "Pending"}`, m.phase === "Drained" ? "drained" : m.phase === "Refused" ? "bad" : "warn"), " "]) : "–"),
    el("td", {}, String(c.prods)), el("td", {}, String(c.publishedWeight)))));
  document.getElementById("freezes").replaceChildren(...(v.freezes.length ? v.freezes.map((f) => el("li", { "data-freeze": `${f.kind}/${f.namespace || ""}/${f.name}` },
    badge(f.invalid ? "invalid" : f.active ? "active" : "inactive", f.active ? "warn" : "Unknown"), ` ${f.kind} ${f.namespace ? f.namespace + "/" : ""}${f.name}: ${f.scope}`,
    f.reason ? ` (${f.reason})` : "", f.until ? ` until ${f.until}` : "", !f.active && f.next ? ` · next ${f.next}` : "")) : [el("li", { class: "empty-note" }, "No freezes.")]));
  const lone = document.getElementById("lone-prods-section");
  lone.hidden = !v.prods.length;
  document.getElementById("lone-prods").replaceChildren(...v.prods.map((p) => el("li", { "data-prod": p.name }, `${p.name} on ${p.cluster} · ${p.version || ""} · DNS ${w(p.publishedWeight)}`)));
  document.body.dataset.updated = v.time;
}

function live(state, text) {
  const l = document.getElementById("live");
  l.dataset.state = state;
  l.textContent = text;
}

async function start() {
  try {
    const r = await fetch("/api/view");
    if (r.ok) render(await r.json());
  } catch (e) { /* the stream below retries */ }
  const es = new EventSource("/api/events");
  es.addEventListener("view", (e) => { live("live", "live"); render(JSON.parse(e.data)); });
  es.onerror = () => live("reconnecting", "reconnecting…");
}

start();

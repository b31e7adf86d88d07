// The suanli portal: one page, no build step, no third-party code. It talks to the API under
// /api/v1 with the caller's bearer token, exactly as the CLI does; every value it shows is set as
// text (never as HTML), and the server's Content-Security-Policy allows nothing inline.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "suanli.token";
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const MONEY_ROLES = new Set(["owner", "admin", "finance"]);
const main = document.getElementById("main");
let generation = 0; // bumped on every navigation: loops of the page left behind stop
let me = null; // GET /whoami, once logged in

// --- small helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function table(headers, rows, numeric = []) {
  const right = (i) => (numeric.includes(i) ? "n" : null);
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { class: right(i) }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell, i) => el("td", { class: right(i) }, cell ?? ""))))),
  );
}

function money(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? value.text ?? `${value.minor} ${value.currency}` : String(value);
}

function when(text) {
  if (!text) return "";
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? text : at.toLocaleString();
}

function state(s) {
  return el("span", { class: `state ${s}` }, s);
}

function jobLink(id) {
  return el("a", { href: `#/jobs/${encodeURIComponent(id)}` }, id);
}

function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "portal-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function put(node, ...children) {
  // replaceChildren would show a null as the text "null": leave the empty ones out
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false && c !== ""));
}

function show(...nodes) {
  put(main, ...nodes);
}

function errorBox(err) {
  const fields = (err.fields || []).map((f) => el("li", {}, `${f.field}: ${f.message}`));
  return el("div", { class: "error", role: "alert" }, err.message, fields.length ? el("ul", {}, fields) : null);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.fields = Array.isArray(body.errors) ? body.errors : [];
  }
}

async function api(method, path, body, headers = {}) {
  const sent = { Accept: "application/json", Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY)}`, ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(API + path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (exc) {
    throw new ApiError(0, { detail: `cannot reach the server (${exc.message})` });
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (resp.status === 401 && !path.startsWith("/whoami")) {
    logout("Your token was refused (expired or revoked): log in again.");
    throw new ApiError(401, data || {});
  }
  if (!resp.ok) throw new ApiError(resp.status, data || {});
  return data;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// --- logging in ------------------------------------------------------------------------------

function logout(why) {
  localStorage.removeItem(TOKEN_KEY);
  me = null;
  sessionStorage.setItem("suanli.why", why || "");
  location.hash = "#/login";
}

function loginPage() {
  const input = el("input", { type: "password", id: "token", autocomplete: "off", size: 60, placeholder: "slt_…" });
  const said = sessionStorage.getItem("suanli.why");
  sessionStorage.removeItem("suanli.why");
  const out = el("div", {}, said ? el("p", { class: "error" }, said) : null);
  const form = el(
    "form",
    {
      class: "spec",
      onsubmit: async (event) => {
        event.preventDefault();
        localStorage.setItem(TOKEN_KEY, input.value.trim());
        try {
          me = await api("GET", "/whoami");
          location.hash = "#/jobs";
        } catch (err) {
          localStorage.removeItem(TOKEN_KEY);
          put(out, errorBox(err.status === 401 ? new Error("That token was refused.") : err));
        }
      },
    },
    el("label", { for: "token" }, "Token"),
    input,
    el("div", { class: "buttons" }, el("button", { type: "submit" }, "Log in")),
  );
  show(
    el("h1", {}, "Log in"),
    el("p", { class: "muted" }, "Paste an API token (suanli token create), or open the link suanli up prints."),
    form,
    out,
  );
  input.focus();
}

// --- jobs ------------------------------------------------------------------------------------

async function jobsPage(gen) {
  const stateFilter = new URLSearchParams(location.hash.split("?")[1] || "").get("state") || "";
  const picker = el(
    "select",
    {
      id: "state-filter",
      onchange: (e) => (location.hash = e.target.value ? `#/jobs?state=${e.target.value}` : "#/jobs"),
    },
    ["", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"].map((s) =>
      el("option", { value: s, selected: s === stateFilter }, s || "every state"),
    ),
  );
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  show(el("h1", {}, "Jobs ", picker), body);
  while (gen === generation) {
    try {
      const query = stateFilter ? `?limit=100&state=${stateFilter}` : "?limit=100";
      const jobs = (await api("GET", `/jobs${query}`)).items || [];
      if (gen !== generation) return;
      put(body,
        jobs.length
          ? table(
              ["job", "name", "project", "state", "submitted", "ended", "exit"],
              jobs.map((j) => [jobLink(j.id), j.name, `${j.org}/${j.project}`, state(j.state), when(j.created_at), when(j.ended_at), j.exit_code ?? j.reason ?? ""]),
            )
          : el("p", { class: "muted" }, "No jobs yet. ", el("a", { href: "#/submit" }, "Submit one.")),
      );
    } catch (err) {
      if (gen === generation) put(body, errorBox(err));
    }
    await sleep(5000);
  }
}

async function jobPage(gen, id) {
  const facts = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  const actions = el("div", {});
  const why = el("div", {});
  const attempts = el("div", {});
  const charges = el("div", {});
  const events = el("div", {});
  const logs = el("pre", { class: "logs", id: "logs" });
  show(
    el("h1", {}, "Job ", id),
    facts,
    actions,
    why,
    el("h2", {}, "Output"),
    logs,
    el("h2", {}, "Attempts"),
    attempts,
    el("h2", {}, "Charges"),
    charges,
    el("h2", {}, "Events"),
    events,
  );
  followLogs(gen, id, logs);
  while (gen === generation) {
    let job;
    try {
      job = await api("GET", `/jobs/${encodeURIComponent(id)}`);
    } catch (err) {
      if (gen === generation) put(facts, errorBox(err));
      return;
    }
    if (gen !== generation) return;
    put(facts,
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "name"), el("dd", {}, job.name),
        el("dt", {}, "state"), el("dd", { id: "job-state" }, state(job.state)),
        el("dt", {}, "project"), el("dd", {}, `${job.org}/${job.project}`),
        el("dt", {}, "where"), el("dd", {}, job.site ? `${job.site} / ${job.pool}` : "not placed yet"),
        el("dt", {}, "submitted"), el("dd", {}, when(job.created_at)),
        el("dt", {}, "started"), el("dd", {}, when(job.started_at)),
        el("dt", {}, "ended"), el("dd", {}, when(job.ended_at)),
        el("dt", {}, "exit"), el("dd", {}, job.exit_code ?? "", job.reason ? ` ${job.reason}` : ""),
        el("dt", {}, "retries left"), el("dd", {}, job.retries_left),
      ),
    );
    const running = !TERMINAL.has(job.state) && job.state !== "CANCELLING";
    put(actions,
      running
        ? el(
            "button",
            {
              type: "button",
              id: "cancel",
              onclick: async () => {
                if (!confirm(`Cancel ${id}?`)) return;
                try {
                  await api("POST", `/jobs/${encodeURIComponent(id)}/cancel`, undefined, { "Idempotency-Key": newKey() });
                } catch (err) {
                  actions.append(errorBox(err));
                }
              },
            },
            "Cancel job",
          )
        : "",
    );
    put(attempts,
      job.attempts.length
        ? table(
            ["#", "site / pool", "state", "started", "ended", "exit"],
            job.attempts.map((a) => [a.number, `${a.site} / ${a.pool}`, state(a.state), when(a.started_at), when(a.ended_at), a.exit_code ?? a.reason ?? ""]),
          )
        : el("p", { class: "muted" }, "None yet."),
    );
    put(charges,
      job.charges.length
        ? table(
            ["currency", "charged", "vouchers", "cash", "arrears", "still held"],
            job.charges.map((c) => [c.currency, money(c.charged), money(c.vouchers), money(c.cash), money(c.arrears), money(c.held)]),
            [1, 2, 3, 4, 5],
          )
        : el("p", { class: "muted" }, "Nothing charged."),
    );
    if (job.state === "PENDING") await showWhy(gen, id, why);
    else put(why);
    try {
      const items = (await api("GET", `/jobs/${encodeURIComponent(id)}/events`)).items || [];
      if (gen === generation) put(events, table(["at", "event", ""], items.map((e) => [when(e.at), e.kind, e.message])));
    } catch (err) {
      if (gen === generation) put(events, errorBox(err));
    }
    if (TERMINAL.has(job.state)) return;
    await sleep(3000);
  }
}

async function showWhy(gen, id, box) {
  try {
    const why = await api("GET", `/jobs/${encodeURIComponent(id)}/why`);
    if (gen !== generation) return;
    const blocked = (why.blocked || []).map((b) => el("li", {}, `${b.pool ?? ""} ${b.reason ?? JSON.stringify(b)}`.trim()));
    const candidates = why.candidates || [];
    put(box,
      el("h2", {}, "Why it waits"),
      blocked.length ? el("ul", {}, blocked) : null,
      candidates.length
        ? table(
            ["pool", "verdict", "reason"],
            candidates.map((c) => [c.pool, c.fits ? "fits" : c.code === "unresolvable" ? "never" : "not now", c.reason]),
          )
        : el("p", { class: "muted" }, "No site offers any pool yet."),
    );
  } catch (err) {
    if (gen === generation) put(box, errorBox(err));
  }
}

function appendOutput(pre, data, start, attempts, marked) {
  // Output from job-level byte `start`; a line where each later attempt's output begins (a retry,
  // a preempted job resumed), from the API's byte offsets of each attempt's first output.
  const bytes = new TextEncoder().encode(data);
  const cuts = attempts
    .filter((a) => a.offset > 0 && a.offset >= start && a.offset < start + bytes.length && !marked.has(a.number))
    .sort((a, b) => a.offset - b.offset);
  const text = (from, to) => new TextDecoder().decode(bytes.slice(from, to));
  let at = 0;
  for (const a of cuts) {
    const cut = a.offset - start;
    if (cut > at) pre.append(text(at, cut));
    if (pre.textContent && !pre.textContent.endsWith("\n")) pre.append("\n"); // on a line of its own
    pre.append(el("span", { class: "marker" }, `── attempt ${a.number} on site ${a.site}, pool ${a.pool} ──\n`));
    marked.add(a.number);
    at = cut;
  }
  if (at < bytes.length) pre.append(text(at));
}

async function followLogs(gen, id, pre) {
  let offset = 0;
  const marked = new Set();
  while (gen === generation) {
    let chunk;
    try {
      chunk = await api("GET", `/jobs/${encodeURIComponent(id)}/logs?offset=${offset}&follow=true&wait=20`);
    } catch (err) {
      if (gen === generation) pre.after(errorBox(err));
      return;
    }
    if (gen !== generation) return;
    if (chunk.data) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      appendOutput(pre, chunk.data, offset, chunk.attempts || [], marked);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
    offset = Math.max(offset, chunk.next_offset);
    if (chunk.complete) {
      if (!pre.textContent) pre.textContent = "(no output)";
      return;
    }
    if (!chunk.data) await sleep(500);
  }
}

// --- quote and submit ------------------------------------------------------------------------

function field(label, input) {
  return [el("label", { for: input.id }, label), input];
}

function submitPage() {
  const name = el("input", { id: "f-name", value: "hello", required: true });
  const run = el("textarea", { id: "f-run", required: true }, 'echo "hello from $SUANLI_JOB_ID on $(hostname)"');
  const accelerators = el("input", { id: "f-accelerators", placeholder: "e.g. A100:1, or empty for none" });
  const cpus = el("input", { id: "f-cpus", type: "number", min: 1, value: 1 });
  const memory = el("input", { id: "f-memory", value: "1Gi" });
  const maxRuntime = el("input", { id: "f-max-runtime", value: "1h" });
  const project = el("input", { id: "f-project", placeholder: "ORG/PROJECT or a name; empty: your default" });
  const objective = el("select", { id: "f-objective" }, ["balanced", "cheapest", "fastest", "greenest"].map((o) => el("option", { value: o }, o)));
  const extra = el("textarea", { id: "f-extra", placeholder: '{"retries": 2, "env": {"SEED": "1"}, "preemptible": true}' });
  const out = el("div", { id: "quote" });

  function spec() {
    const resources = { cpus: Number(cpus.value), memory: memory.value.trim(), max_runtime: maxRuntime.value.trim() };
    if (accelerators.value.trim()) resources.accelerators = accelerators.value.trim();
    if (!resources.memory) delete resources.memory;
    if (!resources.max_runtime) delete resources.max_runtime;
    const s = { name: name.value.trim(), run: run.value, resources, objective: objective.value };
    if (project.value.trim()) s.project = project.value.trim();
    if (extra.value.trim()) {
      let more;
      try {
        more = JSON.parse(extra.value);
      } catch (exc) {
        throw new ApiError(0, { detail: `more of the spec: not JSON (${exc.message})` });
      }
      if (typeof more !== "object" || Array.isArray(more) || more === null) {
        throw new ApiError(0, { detail: "more of the spec: a JSON object, e.g. {\"retries\": 2}" });
      }
      Object.assign(s, more);
    }
    return s;
  }

  async function quote() {
    put(out, el("p", { class: "muted" }, "Pricing…"));
    try {
      const q = await api("POST", "/quote", { spec: spec() });
      const basis = q.expected_hours_from === "default_hold" ? "no max_runtime: the default hold" : "its max_runtime";
      put(out,
        el("p", {}, `Objective ${q.objective}, priced for ${q.expected_hours} h (${basis}).`),
        q.queue_ahead ? el("p", { class: "muted" }, `Start counts the ${q.queue_ahead} job(s) waiting ahead.`) : null,
        q.runnable === false ? el("p", { class: "error" }, "No pool could ever run this job: see why not below.") : null,
        table(
          ["pool", "start", "price/h", "cost", "energy kWh", "CO₂ kg", "why not"],
          (q.candidates || []).map((c) => [
            c.pool,
            c.expected_start ?? "–",
            c.price_per_hour ?? (c.fits ? "free" : ""),
            c.expected_cost ?? (c.fits ? "free" : ""),
            c.energy_kwh ?? "",
            c.carbon_kg ?? "",
            c.fits ? "" : c.reason,
          ]),
          [2, 3, 4, 5],
        ),
      );
    } catch (err) {
      put(out, errorBox(err));
    }
  }

  async function submit(event) {
    event.preventDefault();
    try {
      const job = await api("POST", "/jobs", { spec: spec() }, { "Idempotency-Key": newKey() });
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      put(out, errorBox(err));
    }
  }

  show(
    el("h1", {}, "Submit a job"),
    el("p", { class: "muted" }, "Quote first to see each pool's price and expected start; nothing is submitted until you press Submit."),
    el(
      "form",
      { class: "spec", onsubmit: submit },
      field("Name", name),
      field("Run (shell)", run),
      field("Accelerators", accelerators),
      field("CPUs per node", cpus),
      field("Memory per node", memory),
      field("Max runtime", maxRuntime),
      field("Project", project),
      field("Objective", objective),
      field("More of the spec (JSON)", extra),
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "button", id: "quote-button", onclick: quote }, "Quote"),
        el("button", { type: "submit", id: "submit-button" }, "Submit"),
      ),
    ),
    out,
  );
}

// --- money -----------------------------------------------------------------------------------

async function moneyPage(gen) {
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  show(el("h1", {}, "Money"), body);
  let orgs = (me.memberships || []).filter((m) => MONEY_ROLES.has(m.role)).map((m) => m.org);
  try {
    if (me.operator) orgs = ((await api("GET", "/orgs")).items || []).filter((o) => o.kind === "tenant").map((o) => o.name);
    if (!orgs.length) {
      put(body, el("p", { class: "muted" }, "You see no org's money: only owners, admins and finance members do."));
      return;
    }
    const parts = [];
    for (const org of orgs) {
      const b = await api("GET", `/orgs/${encodeURIComponent(org)}/balance`);
      parts.push(
        el("h2", {}, org),
        table(
          ["project", "balance", "held", "available", "arrears", "credit limit"],
          b.projects.map((p) => [p.project, money(p.balance), money(p.held), money(p.available), money(p.arrears), money(p.credit_limit)]),
          [1, 2, 3, 4, 5],
        ),
        (b.vouchers || []).length
          ? table(
              ["voucher", "programme", "remaining", "share", "valid until"],
              b.vouchers.map((v) => [v.id, v.programme, money(v.remaining), v.share, when(v.valid_until)]),
              [2],
            )
          : el("p", { class: "muted" }, "No live vouchers."),
      );
    }
    if (gen === generation) put(body, ...parts);
  } catch (err) {
    if (gen === generation) put(body, errorBox(err));
  }
}

// --- network ---------------------------------------------------------------------------------

async function networkPage(gen) {
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  show(el("h1", {}, "Network"), body);
  try {
    const sites = (await api("GET", "/sites")).items || [];
    if (gen !== generation) return;
    const rows = [];
    for (const s of sites) {
      for (const p of s.pools.length ? s.pools : [null]) {
        rows.push([
          s.name,
          s.org,
          s.region ?? "",
          state(s.state),
          p ? p.name : "(no pools)",
          p ? `${p.accelerator ? `${p.accelerators_per_node}×${p.accelerator}, ` : ""}${p.cpus_per_node} CPU × ${p.nodes}` : "",
          p ? `${p.accelerator ? `${p.free.accelerators} acc, ` : ""}${p.free.cpus} CPU` : "",
          p ? p.price_per_hour ?? "free" : "",
        ]);
      }
    }
    put(body,
      rows.length ? table(["site", "provider", "region", "state", "pool", "nodes", "free", "price/h"], rows) : el("p", { class: "muted" }, "No sites yet."),
    );
  } catch (err) {
    if (gen === generation) put(body, errorBox(err));
  }
}

// --- routing ---------------------------------------------------------------------------------

function takeTokenFromLink() {
  // `suanli up` prints /portal/#token=…: keep it, and take it out of the address bar and history
  const match = location.hash.match(/^#token=([^&]+)/);
  if (!match) return;
  localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, "", `${location.pathname}#/jobs`);
}

async function route() {
  const gen = ++generation;
  const [path] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("here", a.getAttribute("href") === `#/${parts[0]}`);
  const logoutButton = document.getElementById("logout");
  if (parts[0] === "login" || !localStorage.getItem(TOKEN_KEY)) {
    logoutButton.hidden = true;
    document.getElementById("who").textContent = "";
    if (parts[0] !== "login") location.hash = "#/login";
    else loginPage();
    return;
  }
  if (!me) {
    try {
      me = await api("GET", "/whoami");
    } catch (err) {
      if (err.status === 401) logout("Your token was refused (expired or revoked): log in again.");
      else show(errorBox(err));
      return;
    }
  }
  const roles = (me.memberships || []).map((m) => `${m.org} ${m.role}`).join(", ");
  document.getElementById("who").textContent = `${me.user ?? me.kind}${me.operator ? " (operator)" : ""}${roles ? ` · ${roles}` : ""}`;
  logoutButton.hidden = false;
  if (gen !== generation) return;
  if (parts[0] === "jobs" && parts[1]) return jobPage(gen, decodeURIComponent(parts[1]));
  if (parts[0] === "submit") return submitPage();
  if (parts[0] === "money") return moneyPage(gen);
  if (parts[0] === "network") return networkPage(gen);
  if (parts[0] !== "jobs") {
    location.hash = "#/jobs";
    return;
  }
  return jobsPage(gen);
}

document.getElementById("logout").addEventListener("click", () => logout(""));
window.addEventListener("hashchange", route);
takeTokenFromLink();
route();

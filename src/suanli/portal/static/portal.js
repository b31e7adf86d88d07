// The suanli portal: one page, no build step, no third-party code. It talks to the API under
// /api/v1 with the caller's bearer token, exactly as the CLI does; every value it shows is set as
// text (never as HTML), and the server's Content-Security-Policy allows nothing inline.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "suanli.token";
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const JOB_STATES = ["PENDING", "ASSIGNED", "RUNNING", "CANCELLING", "SUCCEEDED", "FAILED", "CANCELLED"];
const DRAFT_KEY = "suanli.draft"; // a job's spec carried to the Submit form ("Edit as a new job")
const MONEY_ROLES = new Set(["owner", "admin", "finance"]);
const main = document.getElementById("main");
let generation = 0; // bumped on every navigation: loops of the page left behind stop
let me = null; // GET /whoami, once logged in
let loginWhy = ""; // why the login page is shown (a refused token, a damaged link), until a login

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

let woken = false; // a wakeUp() that came while the page's loop was reading, not pausing
const remember = () => (woken = true);
let wakeUp = remember; // ends the current page's pause at once (after an action, or a change its watch saw)

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function pause(ms) {
  // the page's own loop waits here; `wakeUp()` ends the wait, and one that came while the loop was
  // reading ends the next wait at once, so a change seen mid-read is not left for the next poll
  // (other loops use `sleep`)
  return new Promise((resolve) => {
    if (woken) {
      woken = false;
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      if (wakeUp === done) wakeUp = remember; // a page left behind keeps its hands off the next one's
      resolve();
    };
    const timer = setTimeout(done, ms);
    wakeUp = done;
  });
}

function go(hash) {
  location.replace(hash); // a redirect: no history entry for Back to land on again
}

// --- logging in ------------------------------------------------------------------------------

function logout(why) {
  localStorage.removeItem(TOKEN_KEY);
  me = null;
  loginWhy = why || "";
  go("#/login");
}

function notForPortal(who) {
  // a site's agent or enrollment token: the API answers whoami, but no page here is for it
  return who.kind !== "user" ? "That is a site's token; the portal takes a person's token (suanli token create)." : null;
}

function loginPage() {
  const input = el("input", { type: "password", id: "token", autocomplete: "off", size: 60, placeholder: "slt_…" });
  const out = el("div", {}, loginWhy ? el("p", { class: "error" }, loginWhy) : null);
  const form = el(
    "form",
    {
      class: "spec",
      onsubmit: async (event) => {
        event.preventDefault();
        const token = input.value.trim();
        try {
          const who = await api("GET", "/whoami", undefined, { Authorization: `Bearer ${token}` });
          const refused = notForPortal(who);
          if (refused) {
            put(out, el("p", { class: "error" }, refused));
            return;
          }
          localStorage.setItem(TOKEN_KEY, token);
          me = who;
          loginWhy = "";
          go("#/jobs");
        } catch (err) {
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
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("state") || "";
  const stateFilter = JOB_STATES.includes(wanted) ? wanted : "";
  let limit = 100;
  const picker = el(
    "select",
    {
      id: "state-filter",
      onchange: (e) => (location.hash = e.target.value ? `#/jobs?state=${encodeURIComponent(e.target.value)}` : "#/jobs"),
    },
    ["", ...JOB_STATES].map((s) => el("option", { value: s, selected: s === stateFilter }, s || "every state")),
  );
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  const more = el("div", {});
  show(el("h1", {}, "Jobs ", picker), body, more);
  while (gen === generation) {
    try {
      const query = new URLSearchParams({ limit: String(limit) });
      if (stateFilter) query.set("state", stateFilter);
      const page = await api("GET", `/jobs?${query}`);
      const jobs = page.items || [];
      if (gen !== generation) return;
      put(
        body,
        jobs.length
          ? table(
              ["job", "name", "project", "state", "submitted", "ended", "exit"],
              jobs.map((j) => [jobLink(j.id), j.name, `${j.org}/${j.project}`, state(j.state), when(j.created_at), when(j.ended_at), j.exit_code ?? j.reason ?? ""]),
            )
          : el("p", { class: "muted" }, stateFilter ? `No ${stateFilter} jobs.` : "No jobs yet. ", stateFilter ? null : el("a", { href: "#/submit" }, "Submit one.")),
      );
      put(
        more,
        !page.next_cursor
          ? null
          : limit < 500
            ? el("button", { type: "button", id: "older", onclick: () => ((limit += 100), wakeUp()) }, "Show 100 older")
            : el("p", { class: "muted" }, "The newest 500 are shown: suanli jobs --all lists every one."),
      );
    } catch (err) {
      if (gen === generation) put(body, errorBox(err));
    }
    await pause(5000);
  }
}

async function jobPage(gen, id) {
  const path = `/jobs/${encodeURIComponent(id)}`;
  const logs = el("pre", { class: "logs", id: "logs" });
  // The output's long poll is opened before the job is read: it answers as soon as the job changes
  // (placed, started, ended) and wakes the loop below to show it. A job just submitted is read before
  // the scheduler's cycle places it, so a first view read alone stayed PENDING until the next poll, 3 s
  // later, while the job already ran; the poll is now only the fallback.
  followLogs(gen, id, logs);
  let job;
  try {
    job = await api("GET", path);
  } catch (err) {
    if (gen === generation) show(el("h1", {}, "Job ", id), errorBox(err));
    return;
  }
  const facts = el("div", {});
  const actions = el("div", { class: "actions" });
  const problem = el("div", {}); // what went wrong last, kept until the next success
  const why = el("div", {});
  const attempts = el("div", {});
  const charges = el("div", {});
  const events = el("div", {});
  const spec = el("pre", { class: "spec", id: "spec" });
  show(
    el("h1", {}, "Job ", id),
    facts,
    actions,
    problem,
    why,
    el("h2", {}, "Output"),
    logs,
    el("h2", {}, "Attempts"),
    attempts,
    el("h2", {}, "Charges"),
    charges,
    el("h2", {}, "Events"),
    events,
    el("h2", {}, "Spec"),
    spec,
  );
  let wait = 3000;
  while (gen === generation) {
    spec.textContent = JSON.stringify(job.spec, null, 2);
    showJob(job, { facts, actions, problem, attempts, charges });
    await showWhy(gen, id, why);
    try {
      const items = (await api("GET", `${path}/events`)).items || [];
      if (gen === generation) put(events, table(["at", "event", ""], items.map((e) => [when(e.at), e.kind, e.message])));
    } catch (err) {
      if (gen === generation) put(events, errorBox(err));
    }
    if (TERMINAL.has(job.state)) return;
    await pause(wait);
    if (gen !== generation) return;
    try {
      job = await api("GET", path);
      wait = 3000;
      put(problem);
    } catch (err) {
      if (gen !== generation || err.status === 401) return;
      if (err.status === 404) {
        show(el("h1", {}, "Job ", id), errorBox(err));
        return;
      }
      put(problem, errorBox(new ApiError(err.status, { detail: `${err.message}; trying again` })));
      wait = Math.min(wait * 2, 30000); // the server may be restarting: keep watching
    }
  }
}

function showJob(job, { facts, actions, problem, attempts, charges }) {
  put(
    facts,
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
  const again = el(
    "button",
    {
      type: "button",
      id: "edit-as-new",
      onclick: () => {
        sessionStorage.setItem(DRAFT_KEY, JSON.stringify(job.spec));
        location.hash = "#/submit";
      },
    },
    "Edit as a new job",
  );
  const cancel = el(
    "button",
    {
      type: "button",
      id: "cancel",
      onclick: async () => {
        if (!confirm(`Cancel ${job.id}?`)) return;
        cancel.disabled = true;
        try {
          await api("POST", `/jobs/${encodeURIComponent(job.id)}/cancel`, undefined, { "Idempotency-Key": newKey() });
          wakeUp(); // show CANCELLING at once
        } catch (err) {
          cancel.disabled = false;
          put(problem, errorBox(err));
        }
      },
    },
    "Cancel job",
  );
  put(actions, TERMINAL.has(job.state) || job.state === "CANCELLING" ? null : cancel, again);
  put(
    attempts,
    job.attempts.length
      ? table(
          ["#", "site / pool", "state", "started", "ended", "exit"],
          job.attempts.map((a) => [a.number, `${a.site} / ${a.pool}`, state(a.state), when(a.started_at), when(a.ended_at), a.exit_code ?? a.reason ?? ""]),
        )
      : el("p", { class: "muted" }, "None yet."),
  );
  // charged is net of refunds; what they gave back gets a column where there is some, as on a statement
  const refunds = job.charges.some((c) => /[1-9]/.test(String(c.refunded ?? "").split(" ")[0]));
  put(
    charges,
    job.charges.length
      ? table(
          ["currency", "charged", "vouchers", "cash", "arrears", ...(refunds ? ["refunded"] : []), "still held"],
          job.charges.map((c) => [c.currency, money(c.charged), money(c.vouchers), money(c.cash), money(c.arrears), ...(refunds ? [money(c.refunded)] : []), money(c.held)]),
          refunds ? [1, 2, 3, 4, 5, 6] : [1, 2, 3, 4, 5],
        )
      : el("p", { class: "muted" }, "Nothing charged."),
  );
}

const AWAY = new Set(["stopped", "offline", "disabled"]); // site states that take no work

const CLEARS = {
  // what clears a gate's refusal (`blocked[].pool` names the gate), as `suanli why` says it
  "(funds)": "it starts once its project's available funds cover the hold: a top-up or a higher credit limit (by an operator)",
  "(budget)": "it starts once its hold fits in what the project's hard-capped budget leaves this month: finance raises the budget or lifts the cap, running jobs end below their holds, or a new month begins",
  "(quota)": "it starts once its org's running jobs free enough of its quota, or an operator raises the limit",
};

async function showWhy(gen, id, box) {
  // what `suanli why` says: only of a job still waiting (the API answers for the job as it is now)
  let why;
  try {
    why = await api("GET", `/jobs/${encodeURIComponent(id)}/why`);
  } catch (err) {
    if (gen === generation) put(box, errorBox(err));
    return;
  }
  if (gen !== generation) return;
  if (why.state !== "PENDING") {
    put(box);
    return;
  }
  const lines = [];
  // what binds first (a gate, capacity reserved for another job) heads the list, with what clears it
  for (const b of why.blocked || []) {
    const [reason, clears] = typeof b === "string" ? [b, null] : [String(b.reason), CLEARS[b.pool]];
    lines.push(`Held back: ${clears ? `${reason.replace(/\.$/, "")}; ${clears}.` : reason}`);
  }
  if (why.queue) lines.push(`In the queue: ${why.queue}.`); // its place, and when ageing promotes it
  const r = why.reservation;
  if (r) {
    const from = r.starts_at ? `from ${when(r.starts_at)}` : "once the jobs running there end";
    lines.push(`It holds a reservation on ${r.pool} ${from}${r.preempting ? `; ${r.preempting} preemptible job(s) there are being stopped for it` : ""}.`);
  }
  for (const pool of why.holding || []) {
    const running = pool.attempts || [];
    const ends = running.map((a) => a.ends_by).filter(Boolean).sort();
    lines.push(`${pool.pool} is held by ${running.length} running job(s)${ends.length ? `; the first ends by ${when(ends[0])}` : ""}.`);
  }
  const candidates = why.candidates || [];
  put(
    box,
    el("h2", {}, "Why it waits"),
    lines.length ? el("ul", {}, lines.map((line) => el("li", {}, line))) : null,
    candidates.length
      ? table(
          ["pool", "verdict", "reason"],
          candidates.map((c) => [c.pool, c.fits ? "fits" : c.code === "unresolvable" ? "never" : "not now", c.reason]),
        )
      : el("p", { class: "muted" }, "No site offers any pool yet."),
  );
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
  // The job's output, and its watch: the server answers a follow at once when the job changes, with
  // no output if it wrote none (placed, started, ended), so the job page is woken to read it then.
  let offset = 0;
  let hurried = 0; // empty answers in a row that came at once
  const marked = new Set();
  while (gen === generation) {
    let chunk;
    const asked = Date.now();
    try {
      chunk = await api("GET", `/jobs/${encodeURIComponent(id)}/logs?offset=${offset}&follow=true&wait=20`);
    } catch (err) {
      if (err.status === 401 || err.status === 404) return; // the job page says so
      await sleep(3000); // a restart, a dropped connection: read on from where it stopped
      continue;
    }
    if (gen !== generation) return;
    // an answer without new output, or the last of it, says the job changed (or the wait ran out):
    // the page reads it again now rather than at its next poll
    if (!chunk.data || chunk.complete) wakeUp();
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
    // asked again at once, so a change right after this one is not missed between two asks; only
    // a job that changes without end (answer after answer at once, no output) is asked more slowly
    hurried = !chunk.data && Date.now() - asked < 50 ? hurried + 1 : 0;
    if (hurried >= 3) await sleep(500);
  }
}

// --- quote and submit ------------------------------------------------------------------------

function field(label, input) {
  return [el("label", { for: input.id }, label), input];
}

function submitPage() {
  const draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null"); // "Edit as a new job"
  sessionStorage.removeItem(DRAFT_KEY);
  const name = el("input", { id: "f-name", value: draft ? draft.name : "hello", required: true });
  const run = el("textarea", { id: "f-run", required: true }, draft ? draft.run : 'echo "hello from $SUANLI_JOB_ID on $(hostname)"');
  const accelerators = el("input", { id: "f-accelerators", placeholder: "e.g. A100:1, or empty for none" });
  const cpus = el("input", { id: "f-cpus", type: "number", min: 1, value: draft ? null : 1, placeholder: "1" });
  const memory = el("input", { id: "f-memory", value: draft ? null : "1Gi", placeholder: "e.g. 1Gi" });
  const maxRuntime = el("input", { id: "f-max-runtime", value: draft ? null : "1h", placeholder: "e.g. 1h, 30m" });
  const project = el("input", { id: "f-project", placeholder: "ORG/PROJECT or a name; empty: your default" });
  const objective = el("select", { id: "f-objective" }, ["balanced", "cheapest", "fastest", "greenest"].map((o) => el("option", { value: o, selected: draft && draft.objective === o }, o)));
  const empty = (v) => v === null || (typeof v === "object" && Object.keys(v).length === 0); // left out: the default
  const rest = draft
    ? Object.fromEntries(Object.entries(draft).filter(([k, v]) => !["name", "run", "objective"].includes(k) && !empty(v)))
    : null;
  const extra = el(
    "textarea",
    { id: "f-extra", placeholder: '{"retries": 2, "env": {"SEED": "1"}, "preemptible": true}' },
    rest ? JSON.stringify(rest, null, 2) : "",
  );
  const out = el("div", { id: "quote" });
  const quoteButton = el("button", { type: "button", id: "quote-button" }, "Quote");
  const submitButton = el("button", { type: "submit", id: "submit-button" }, "Submit");
  let key = null; // one Idempotency-Key per spec: a second click on the same job submits it once
  let keyFor = null;

  function spec() {
    const resources = {};
    if (accelerators.value.trim()) resources.accelerators = accelerators.value.trim();
    if (cpus.value.trim()) resources.cpus = Number(cpus.value);
    if (memory.value.trim()) resources.memory = memory.value.trim();
    if (maxRuntime.value.trim()) resources.max_runtime = maxRuntime.value.trim();
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
        throw new ApiError(0, { detail: 'more of the spec: a JSON object, e.g. {"retries": 2}' });
      }
      // its fields win over the form's; its resources are merged into the form's field by field
      const { resources: moreResources, ...others } = more;
      if (moreResources && typeof moreResources === "object" && !Array.isArray(moreResources)) {
        Object.assign(resources, moreResources);
      } else if (moreResources !== undefined) {
        others.resources = moreResources; // not an object: the server says what is wrong with it
      }
      Object.assign(s, others);
    }
    return s;
  }

  quoteButton.addEventListener("click", async () => {
    put(out, el("p", { class: "muted" }, "Pricing…"));
    quoteButton.disabled = true;
    try {
      const q = await api("POST", "/quote", { spec: spec() });
      const basis = q.expected_hours_from === "default_hold" ? "no max_runtime: the default hold" : "its max_runtime";
      put(
        out,
        el("p", {}, `Objective ${q.objective}, priced for ${q.expected_hours} h (${basis}).`),
        q.queue_ahead ? el("p", { class: "muted" }, `Start counts the ${q.queue_ahead} job(s) waiting ahead.`) : null,
        q.runnable === false ? el("p", { class: "error" }, "No pool could ever run this job: see why not below.") : null,
        table(
          ["pool", "start", "price/h", "cost", "energy kWh", "CO₂ kg", "why not now"],
          (q.candidates || []).map((c) => {
            const never = c.code === "unresolvable";
            return [
              c.pool,
              c.expected_start === "now" ? "now" : c.expected_start ? when(c.expected_start) : "–",
              c.price_per_hour ?? (never ? "" : "free"),
              c.expected_cost ?? (never ? "" : "free"),
              c.energy_kwh ?? "",
              c.carbon_kg ?? "",
              c.fits ? "" : c.expected_start ? `starts later: ${c.reason}` : c.reason,
            ];
          }),
          [2, 3, 4, 5],
        ),
      );
    } catch (err) {
      put(out, errorBox(err));
    } finally {
      quoteButton.disabled = false;
    }
  });

  async function submit(event) {
    event.preventDefault();
    submitButton.disabled = true;
    try {
      const body = { spec: spec() };
      const text = JSON.stringify(body);
      if (text !== keyFor) [key, keyFor] = [newKey(), text];
      const job = await api("POST", "/jobs", body, { "Idempotency-Key": key });
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      put(out, errorBox(err));
    } finally {
      submitButton.disabled = false;
    }
  }

  show(
    el("h1", {}, "Submit a job"),
    el(
      "p",
      { class: "muted" },
      draft
        ? `A copy of ${draft.name}: the rest of its spec is below, as JSON. Change what you like, then Quote or Submit.`
        : "Quote first to see each pool's price and expected start; nothing is submitted until you press Submit.",
    ),
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
      field("More of the spec (JSON; its fields win)", extra),
      el("div", { class: "buttons" }, quoteButton, submitButton),
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
          ["project", "currency", "balance", "held", "held on vouchers", "available", "arrears", "credit limit"],
          b.projects.map((p) => [p.project, p.currency, money(p.balance), money(p.held), money(p.held_on_vouchers), money(p.available), money(p.arrears), money(p.credit_limit)]),
          [2, 3, 4, 5, 6, 7],
        ),
        (b.vouchers || []).length
          ? table(
              ["voucher", "programme", "remaining", "share", "valid until"],
              b.vouchers.map((v) => [v.id, v.programme, money(v.remaining), `${+(Number(v.share) * 100).toFixed(6)}%`, when(v.valid_until)]),
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
          // a site that takes no work has nothing free, however idle its pools were when last heard of
          !p ? "" : AWAY.has(s.state) ? `- (${s.state})`
            : `${p.accelerator ? `${p.free.accelerators} acc, ` : ""}${p.free.cpus} CPU`,
          p ? p.price_per_hour ?? "free" : "",
        ]);
      }
    }
    put(body,
      rows.length
        ? [
            table(["site", "provider", "region", "state", "pool", "nodes", "free", "list price"], rows),
            el("p", { class: "muted" }, "List price: per accelerator-hour (per CPU-hour on a CPU pool). A quote prices a job on the pool's whole price book."),
          ]
        : el("p", { class: "muted" }, "No sites yet."),
    );
  } catch (err) {
    if (gen === generation) put(body, errorBox(err));
  }
}

// --- routing ---------------------------------------------------------------------------------

function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // not %-encoded after all: the API says there is no such job
  }
}

async function takeTokenFromLink() {
  // `suanli up` prints /portal/#token=…: take the token out of the address bar and the history at
  // once; where another person's token is in use here, ask before changing who you are.
  const match = location.hash.match(/^#token=([^&]*)/);
  history.replaceState(null, "", `${location.pathname}#/jobs`);
  let offered = null;
  try {
    offered = decodeURIComponent(match[1]).trim();
  } catch {
    offered = "";
  }
  if (!offered) {
    logout("That login link is damaged: paste the token instead.");
    return;
  }
  const current = localStorage.getItem(TOKEN_KEY);
  if (current === offered) return;
  let who;
  try {
    who = await api("GET", "/whoami", undefined, { Authorization: `Bearer ${offered}` });
  } catch (err) {
    logout(err.status === 401 ? "The token in that link was refused (expired or revoked)." : err.message);
    return;
  }
  const refused = notForPortal(who);
  if (refused) {
    if (!current) logout(refused);
    else alert(refused);
    return;
  }
  const was = me ? me.user : null;
  if (current && !confirm(`This link logs you in as ${who.user}${was ? ` in place of ${was}` : ""}. Go on?`)) return;
  localStorage.setItem(TOKEN_KEY, offered);
  me = who;
  loginWhy = "";
}

async function route() {
  const gen = ++generation;
  [woken, wakeUp] = [false, remember]; // a wake meant for the page left behind is not this one's
  if (location.hash.startsWith("#token=")) await takeTokenFromLink();
  if (gen !== generation) return;
  const [path] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("here", a.getAttribute("href") === `#/${parts[0]}`);
  const logoutButton = document.getElementById("logout");
  if (parts[0] === "login" || !localStorage.getItem(TOKEN_KEY)) {
    logoutButton.hidden = true;
    document.getElementById("who").textContent = "";
    if (parts[0] !== "login") go("#/login");
    else loginPage();
    return;
  }
  if (!me) {
    try {
      me = await api("GET", "/whoami");
    } catch (err) {
      if (err.status !== 401) show(errorBox(err));
      return;
    }
    const refused = notForPortal(me);
    if (refused) return logout(refused);
  }
  const roles = (me.memberships || []).map((m) => `${m.org} ${m.role}`).join(", ");
  document.getElementById("who").textContent = `${me.user ?? me.kind}${me.operator ? " (operator)" : ""}${roles ? ` · ${roles}` : ""}`;
  logoutButton.hidden = false;
  if (gen !== generation) return;
  if (parts[0] === "jobs" && parts[1]) return jobPage(gen, decoded(parts[1]));
  if (parts[0] === "submit") return submitPage();
  if (parts[0] === "money") return moneyPage(gen);
  if (parts[0] === "network") return networkPage(gen);
  if (parts[0] !== "jobs") return go("#/jobs");
  return jobsPage(gen);
}

document.getElementById("logout").addEventListener("click", () => logout(""));
window.addEventListener("hashchange", route);
window.addEventListener("storage", (event) => {
  // another tab logged in or out: this one follows, rather than show one person and act as another
  if (event.key === TOKEN_KEY) {
    me = null;
    route();
  }
});
route();

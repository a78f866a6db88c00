// One release in detail: metadata, links, eval metrics against the budgets,
// the diff (files and state paths) against its parent or another release, and
// the changelog.

import { ApiError, get, query } from "./api.js";
import { METRICS, overBudget } from "./chart.js";
import { ago, fill, h, pretty, short } from "./dom.js";
import { percent, verdictText } from "./rollout.js";

async function optional(path) {
  try {
    return await get(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function facts(pairs) {
  return h("dl", { class: "facts" },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "")
      .flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

/** The sandbox its tiers ran candidates under: "bwrap 0.8.0 (…)" or "unconfined (why)";
 *  the rules it enforced on hover. Null for a release whose summary does not say. */
function sandboxFact(sandbox) {
  if (!sandbox) return null;
  if (sandbox.kind === "none") {
    return h("span", { class: "sandbox fail", "data-sandbox": "none" },
      sandbox.reason ? `unconfined (${sandbox.reason})` : "unconfined");
  }
  const limit = sandbox.process_limit ? `process count: ${sandbox.process_limit}` : "";
  const held = sandbox.memory_limit ? `memory: ${sandbox.memory_limit}` : "";
  const said = [sandbox.reason, limit, held].filter(Boolean).join("; ");
  return h("span", { class: "sandbox", "data-sandbox": sandbox.kind, title: sandbox.rules.join("\n") },
    `${sandbox.kind} ${sandbox.version || ""}`.trim() + (said ? ` (${said})` : ""));
}

/** "rollout 3 aborted · abort by human: worse", or the live weight; null if served at once. */
function rolloutFact(rollout) {
  if (!rollout) return null;
  const said = rollout.verdict ? verdictText(rollout.verdict) : `weight ${percent(rollout.weight)}`;
  return h("span", { class: "rollout-fact", "data-rollout": rollout.status },
    h("span", { class: `pill rollout ${rollout.status}` }, rollout.status), ` rollout ${rollout.id} · ${said}`);
}

function evalSection(report, budgets) {
  if (!report) {
    return h("p", { class: "muted" }, "No eval summary yet (the full CI tier writes ",
      h("code", {}, "evals/{commit}/summary.json"), ").");
  }
  const rows = METRICS.map((metric) => {
    const value = report.kpis[metric.key];
    const budget = budgets ? budgets[metric.budget] : null;
    const verdict = value === null || budget === null || budget === undefined ? ""
      : overBudget(metric, value, budget) ? "over budget" : "within budget";
    return h("tr", {},
      h("td", {}, metric.title),
      h("td", { class: "mono" }, value === null ? "—" : metric.format(value)),
      h("td", { class: "mono muted" }, budget === null || budget === undefined ? "—"
        : `${metric.bound === "min" ? "≥" : "≤"} ${metric.format(budget)}`),
      h("td", { class: verdict === "over budget" ? "fail" : "pass" }, verdict));
  });
  const best = report.kpis.heldout_best_arm_accuracy;
  if (best !== null && best !== undefined) {
    rows.splice(1, 0, h("tr", {},
      h("td", {}, "Held-out accuracy (best arm alone)"),
      h("td", { class: "mono" }, `${(best * 100).toFixed(1)}%`),
      h("td", { class: "mono muted" }, "—"),
      h("td", {}, "")));
  }
  return h("div", {},
    h("table", { class: "kpi-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "metric"), h("th", {}, "value"), h("th", {}, "budget"), h("th", {}, ""))),
      h("tbody", {}, rows)),
    h("details", { class: "meta" }, h("summary", {}, `summary as stored (${report.key})`),
      h("pre", {}, JSON.stringify(report.summary, null, 2))));
}

function diffSection(diff) {
  const files = diff.files.length
    ? h("table", { class: "files" }, h("tbody", {}, diff.files.map((f) => h("tr", {},
        h("td", {}, h("span", { class: `status-badge ${f.status}` }, f.status)),
        h("td", { class: "mono" }, f.old_path ? `${f.old_path} → ${f.path}` : f.path),
        h("td", { class: "num-add" }, f.additions === null ? "bin" : `+${f.additions}`),
        h("td", { class: "num-del" }, f.deletions === null ? "" : `−${f.deletions}`)))))
    : h("p", { class: "muted" }, "No files changed.");
  const changes = diff.state.changes.length
    ? h("table", { class: "changes" },
        h("thead", {}, h("tr", {}, h("th", {}, "state path"), h("th", {}, "before"), h("th", {}, "after"))),
        h("tbody", {}, diff.state.changes.map((c) => h("tr", { "data-op": c.op },
          h("td", { class: "path" }, c.path || "/"),
          h("td", { class: "val before" }, c.op === "added" ? "" : pretty(c.before)),
          h("td", { class: "val after" }, c.op === "removed" ? "" : pretty(c.after))))))
    : h("p", { class: "muted" }, "The state is identical.");
  return h("div", { class: "diff" },
    files, diff.files_truncated ? h("p", { class: "muted" }, "(more files not shown)") : null,
    h("h4", { class: "muted" }, diff.state.path), changes,
    diff.state.truncated ? h("p", { class: "muted" }, "(more state changes not shown)") : null);
}

/** Render ``version`` into ``panel``; ``context`` has {active, budgets, known, onSelect}. */
export async function showRelease(panel, version, context, against = null) {
  panel.replaceChildren(h("p", { class: "muted" }, `Loading ${version}…`));
  const detail = await get(`/versions/${encodeURIComponent(version)}`);
  const base = against || detail.parent;
  const [report, diff] = await Promise.all([
    optional(`/versions/${encodeURIComponent(version)}/evals`),
    base ? optional(`/versions/${encodeURIComponent(version)}/diff${query({ against: base })}`) : null,
  ]);
  const link = (v) => v ? h("button", { type: "button", class: "linkish", onclick: () => context.onSelect(v) }, v) : "—";
  const choices = [...new Set([detail.parent, context.active, ...context.known].filter((v) => v && v !== version))];
  const picker = h("select", { "aria-label": "Compare with",
    onchange: (e) => showRelease(panel, version, context, e.target.value) },
    choices.map((v) => h("option", { value: v, selected: v === base },
      v === detail.parent ? `${v} (parent)` : v === context.active ? `${v} (active)` : v)));
  const links = detail.links;
  fill(panel,
    h("div", { class: "details-head" },
      h("h2", {}, detail.version),
      h("span", { class: `pill ${detail.kind}` }, detail.kind),
      h("span", { class: "pill author" }, detail.author),
      detail.active ? h("span", { class: "pill active" }, "active") : null),
    h("p", { class: "reason-big" }, detail.reason || h("span", { class: "muted" }, "no reason given")),
    facts([
      ["task", detail.task],
      ["commit", h("code", { title: detail.commit }, short(detail.commit))],
      ["parent", link(detail.parent)],
      ["children", detail.children.length ? h("span", {}, detail.children.flatMap((c, i) => [i ? ", " : "", link(c)])) : null],
      ["released", `${ago(detail.created_at || detail.tagged_at)} · ${detail.created_at || detail.tagged_at}`],
      ["job", links.job_id],
      ["feedback", links.feedback_ids.length ? links.feedback_ids.join(", ") : null],
      ["feedback applied", links.feedback_applied],
      ["trace", links.trace_id],
      ["state hash", detail.state_hash ? h("code", {}, detail.state_hash.slice(0, 23)) : null],
      ["tool schema", detail.tool_schema_hash ? h("code", {}, detail.tool_schema_hash.slice(0, 23)) : null],
      ["sandbox", sandboxFact(detail.sandbox)],
      ["rollout", rolloutFact(detail.rollout)],
    ]),
    h("h3", {}, "Eval metrics"),
    evalSection(report, context.budgets),
    h("h3", {}, "Diff"),
    base
      ? h("div", {}, h("div", { class: "diff-controls" }, "compared with", picker), diff ? diffSection(diff) : null)
      : h("p", { class: "muted" }, "The first release: nothing to compare with."),
    h("h3", {}, "Changelog"),
    h("ol", { class: "changelog" }, detail.changelog.map((c) =>
      h("li", {}, h("code", {}, short(c.commit)), c.subject, h("span", { class: "muted" }, ` — ${c.author}`)))),
    Object.keys(detail.metadata).length
      ? h("details", { class: "meta" }, h("summary", {}, "more metadata"),
          h("pre", {}, JSON.stringify(detail.metadata, null, 2)))
      : null,
  );
}

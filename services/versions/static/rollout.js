// Rollouts: the live one (canary beside stable, weight, step, the latest
// analysis's reasons and numbers) in its own card, hidden in a home that has
// had none; each release's rollout status for the timeline and the details.

import { ago, fill, h } from "./dom.js";

const LIVE = new Set(["running", "held"]);

/** "abort by human: worse; slower" */
export function verdictText(verdict) {
  if (!verdict) return "";
  const reasons = verdict.reasons.length ? `: ${verdict.reasons.join("; ")}` : "";
  return `${verdict.outcome} by ${verdict.actor}${reasons}`;
}

/** A release's version -> its rollout (as listed by /rollouts). */
export function byVersion(page) {
  return new Map((page ? page.rollouts : []).map((rollout) => [rollout.canary, rollout]));
}

export function percent(weight) {
  return `${Number((weight * 100).toPrecision(3))}%`;
}

/** {"a": {"b": 0.25}} -> [["a.b", "0.25"]]: the analysis's numbers, one per row. */
function flatten(analysis, prefix = "") {
  return Object.entries(analysis || {}).flatMap(([key, value]) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? flatten(value, `${prefix}${key}.`)
      : [[`${prefix}${key}`, typeof value === "number" && !Number.isInteger(value)
        ? String(Number(value.toPrecision(4))) : JSON.stringify(value)]]);
}

function analysisBlock(latest) {
  if (!latest) return h("p", { class: "muted" }, "No analysis yet: the canary is gathering feedback.");
  const numbers = flatten(latest.analysis);
  return h("div", { class: "analysis" },
    h("p", {}, "Latest analysis: ", h("b", { class: "outcome" }, latest.outcome),
      h("span", { class: "muted" }, ` · step ${latest.step + 1} · ${ago(latest.at)}`)),
    latest.reasons.length ? h("ul", { class: "reasons" }, latest.reasons.map((r) => h("li", {}, r))) : null,
    numbers.length
      ? h("table", { class: "kpi-table analysis-numbers" }, h("tbody", {},
          numbers.map(([name, value]) => h("tr", {}, h("td", { class: "mono" }, name), h("td", { class: "mono" }, value)))))
      : null);
}

/** Fill ``section`` from a /rollouts page; hidden when the home has had no rollout. */
export function renderRollout(section, page) {
  section.hidden = !page || page.total === 0;
  if (section.hidden) return;
  const live = page.rollouts.find((r) => LIVE.has(r.status));
  const last = page.rollouts.find((r) => r.verdict);
  const head = h("div", { class: "section-head" }, h("h2", {}, "Rollout"),
    h("span", { class: "count" }, `${page.total} rollout${page.total === 1 ? "" : "s"}`));
  if (!live) {
    fill(section, head, h("p", { class: "muted" }, "No rollout is live: the stable version serves every conversation.",
      last ? ` Last: rollout ${last.id} (${last.canary}) ${last.status}, ${verdictText(last.verdict)}.` : ""));
    return;
  }
  section.dataset.live = live.id;
  fill(section, head,
    h("div", { class: "rollout-live" },
      h("span", { class: `pill rollout ${live.status}` }, live.status),
      h("span", {}, "canary ", h("b", { class: "mono canary" }, live.canary), " beside stable ",
        h("b", { class: "mono" }, live.stable || "—")),
      h("span", { class: "weight" }, "weight ", h("b", { class: "mono" }, percent(live.weight))),
      h("span", {}, "step ", h("b", { class: "mono" }, live.step + 1)),
      h("div", { class: "bar", role: "meter", "aria-valuenow": live.weight, "aria-valuemin": 0, "aria-valuemax": 1 },
        h("span", { style: `width: ${(live.weight * 100).toFixed(1)}%` }))),
    analysisBlock(live.latest));
}

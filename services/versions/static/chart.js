// One small SVG chart per key metric: releases with an eval summary along x
// (the same positions in every chart), the metric up y, the budget as a dashed
// red line, points coloured by release kind and ringed red when over budget.

import { h, s } from "./dom.js";

export const METRICS = [
  {
    key: "heldout_accuracy",
    title: "Held-out accuracy (served)",
    budget: "min_heldout_accuracy",
    bound: "min",
    format: (v) => `${(v * 100).toFixed(1)}%`,
    floor: 0,
    ceiling: 1,
  },
  {
    key: "p95_latency_ms",
    title: "p95 latency",
    budget: "max_p95_latency_ms",
    bound: "max",
    format: (v) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`,
    floor: 0,
  },
  {
    key: "error_rate",
    title: "Error rate",
    budget: "max_error_rate",
    bound: "max",
    format: (v) => `${(v * 100).toFixed(2)}%`,
    floor: 0,
    ceiling: 1,
  },
];

const KIND_COLOR = { major: "#7c3aed", minor: "#2563eb", patch: "#0d9488" };
const W = 360, H = 170, M = { left: 48, right: 14, top: 14, bottom: 30 };

export function overBudget(metric, value, budget) {
  if (value === null || value === undefined || budget === null || budget === undefined) return false;
  return metric.bound === "min" ? value < budget : value > budget;
}

function domain(metric, values, budget) {
  const all = budget === null || budget === undefined ? values : [...values, budget];
  let lo = Math.min(...all), hi = Math.max(...all);
  if (lo === hi) {
    const spread = Math.abs(lo) * 0.1 || 0.01;
    lo -= spread; hi += spread;
  }
  const pad = (hi - lo) * 0.15;
  lo -= pad; hi += pad;
  if (metric.floor !== undefined) lo = Math.max(metric.floor, lo);
  if (metric.ceiling !== undefined) hi = Math.min(metric.ceiling, hi);
  return [lo, hi];
}

/** A chart card for ``metric`` over ``series`` (the /kpis answer). */
export function renderChart(metric, series, { active, selected, onSelect }) {
  const budget = series.budgets[metric.budget];
  const points = series.points;
  const known = points
    .map((point, i) => ({ point, i, value: point[metric.key] }))
    .filter((p) => p.value !== null && p.value !== undefined);
  const latest = known.length ? known[known.length - 1] : null;
  const bad = latest && overBudget(metric, latest.value, budget);
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `${metric.title} per release`,
    "data-metric": metric.key,
  });
  const card = h("article", { class: "chart", "data-metric": metric.key },
    h("header", {},
      h("h3", {}, metric.title),
      h("span", { class: `latest ${latest ? (bad ? "bad" : "good") : ""}` },
        latest ? metric.format(latest.value) : "—")),
    h("div", { class: "sub" },
      latest ? `${latest.point.version} · ` : "",
      budget === null || budget === undefined
        ? "no budget"
        : `budget ${metric.bound === "min" ? "≥" : "≤"} ${metric.format(budget)}`),
    svg);

  const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
  if (!known.length) {
    svg.append(s("rect", { x: M.left, y: M.top, width: plotW, height: plotH, fill: "#f8fafc", rx: 8 }));
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty-note" },
      points.length ? `No ${metric.title.toLowerCase()} reported yet` : "No eval summaries yet"));
    return card;
  }
  const [lo, hi] = domain(metric, known.map((p) => p.value), budget);
  const step = points.length > 1 ? plotW / (points.length - 1) : 0;
  const x = (i) => (points.length > 1 ? M.left + i * step : M.left + plotW / 2);
  const y = (v) => M.top + plotH - ((v - lo) / (hi - lo)) * plotH;

  for (let k = 0; k <= 3; k++) {  // grid and y labels
    const v = lo + ((hi - lo) * k) / 3;
    svg.append(s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: M.left - 6, y: y(v) + 3, "text-anchor": "end", class: "axis-label" },
      metric.format(v)));
  }
  const activeIndex = points.findIndex((p) => p.version === active);
  if (activeIndex >= 0) {
    const band = Math.max(10, Math.min(step || plotW, 28));
    svg.append(s("rect", { x: x(activeIndex) - band / 2, y: M.top, width: band, height: plotH,
      class: "active-band" }, s("title", {}, `${active} is active`)));
  }
  const path = known.map((p, n) => `${n ? "L" : "M"}${x(p.i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  const base = M.top + plotH;
  svg.append(s("path", {
    d: `${path} L${x(known[known.length - 1].i).toFixed(1)},${base} L${x(known[0].i).toFixed(1)},${base} Z`,
    class: "area", fill: "#2563eb",
  }));
  svg.append(s("path", { d: path, class: "series" }));
  if (budget !== null && budget !== undefined && budget >= lo && budget <= hi) {
    svg.append(s("line", { x1: M.left, x2: W - M.right, y1: y(budget), y2: y(budget), class: "budget",
      "data-budget": budget }));
    // The label sits on the side of the line away from the newest point, so they never collide.
    const last = known[known.length - 1];
    const below = y(last.value) < y(budget) || y(budget) - M.top < 14;
    svg.append(s("text", { x: W - M.right - 16, y: y(budget) + (below ? 13 : -5), "text-anchor": "end",
      class: "budget-label" }, `budget ${metric.format(budget)}`));
  }
  const every = Math.max(1, Math.ceil(points.length / 6));  // at most ~6 x labels
  points.forEach((p, i) => {
    if (i % every === 0 || i === points.length - 1) {
      svg.append(s("text", { x: x(i), y: H - 10, "text-anchor": "middle", class: "axis-label" }, p.version));
    }
  });
  // Markers shrink as releases crowd the axis, so a long history stays readable.
  const room = points.length > 1 ? step * 0.45 : 7;
  for (const p of known) {
    const over = overBudget(metric, p.value, budget);
    const kind = p.point.kind;
    const r = Math.max(2, Math.min(kind === "major" ? 7 : kind === "minor" ? 6 : 5, room));
    svg.append(s("circle", {
      cx: x(p.i), cy: y(p.value), r,
      fill: KIND_COLOR[kind] || "#334155",
      class: ["point", over && "over", r < 4 && "small", p.point.version === selected && "selected"]
        .filter(Boolean).join(" "),
      "data-version": p.point.version,
      tabindex: 0,
      onclick: () => onSelect(p.point.version),
      onkeydown: (e) => { if (e.key === "Enter") onSelect(p.point.version); },
    }, s("title", {}, `${p.point.version} · ${kind} · ${metric.format(p.value)}${over ? " · over budget" : ""}`)));
  }
  return card;
}

// Ratchet · Versions: wires the status bar, the KPI charts, the timeline and
// the details panel. When the first render is done, <html data-state="ready">
// (the browser test waits for it).

import { ApiError, get } from "./api.js";
import { METRICS, renderChart } from "./chart.js";
import { showRelease } from "./details.js";
import { fill, h } from "./dom.js";
import { byVersion, percent, renderRollout } from "./rollout.js";
import { Timeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const state = { active: null, series: null, selected: null };
let timeline;

function alert(message, kind = "") {
  $("alerts").append(h("div", { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status" }, message));
}

async function optional(path) {
  try {
    return await get(path);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    return null;
  }
}

async function loadStatus() {
  const [active, task, rollouts] = await Promise.all(
    [optional("/versions/active"), optional("/task"), optional("/rollouts?limit=500")]);
  state.active = active ? active.version : null;
  timeline.rollouts = byVersion(rollouts);
  renderRollout($("rollout"), rollouts);
  const canary = rollouts && rollouts.rollouts.find((r) => r.id === rollouts.live);
  fill($("status"),
    task
      ? h("span", { class: "stat task", title: `${task.description} (${task.train_rows} training rows, ${task.test_rows} held-out)` },
          "task ", h("b", {}, task.name), ` · ${task.labels} intents`)
      : null,
    h("span", { class: "stat" }, "active ", h("b", {}, active ? active.version : "none")),
    active && active.pinned
      ? h("span", { class: "stat pinned", title: active.reason }, `pinned by ${active.actor}`)
      : null,
    active ? h("span", { class: "stat" }, "state rev ", h("b", {}, active.state_revision)) : null,
    canary
      ? h("span", { class: "stat canary", title: `rollout ${canary.id}, step ${canary.step + 1}` },
          "canary ", h("b", {}, canary.canary), ` at ${percent(canary.weight)}`)
      : null,
  );
}

function renderCharts() {
  const series = state.series;
  fill($("charts"), METRICS.map((metric) =>
    renderChart(metric, series, { active: state.active, selected: state.selected, onSelect: select })));
  $("budget-source").textContent =
    `${series.points.length} of ${series.releases} releases have an eval summary · budgets from ${series.budgets_source}`;
}

async function loadCharts() {
  state.series = await get("/kpis");
  renderCharts();
}

async function select(version) {
  state.selected = version;
  timeline.mark(version);
  for (const point of document.querySelectorAll(".chart .point")) {
    point.classList.toggle("selected", point.dataset.version === version);
  }
  if (location.hash !== `#${version}`) history.replaceState(null, "", `#${version}`);
  const known = [...document.querySelectorAll("#timeline .release")].map((b) => b.dataset.version);
  try {
    await showRelease($("details"), version, {
      active: state.active,
      budgets: state.series ? state.series.budgets : null,
      known,
      onSelect: select,
    });
  } catch (error) {
    $("details").replaceChildren(h("p", { class: "alert error" }, `${version}: ${error.message}`));
  }
}

function wireFilters() {
  for (const chip of document.querySelectorAll("#kind-filter .chip")) {
    chip.addEventListener("click", async () => {
      for (const other of document.querySelectorAll("#kind-filter .chip")) other.classList.remove("on");
      chip.classList.add("on");
      timeline.filters.kind = chip.dataset.kind;
      await timeline.load();
    });
  }
  $("author-filter").addEventListener("change", async (event) => {
    timeline.filters.author = event.target.value;
    await timeline.load();
  });
  window.addEventListener("hashchange", () => {
    const version = location.hash.slice(1);
    if (version && version !== state.selected) select(version);
  });
}

async function main() {
  timeline = new Timeline($("timeline"), $("load-more"), $("release-count"), select);
  wireFilters();
  try {
    await loadStatus();
    const [page] = await Promise.all([timeline.load(), loadCharts()]);
    if (page.flagged.length) {
      alert(h("span", {}, `${page.flagged.length} tag${page.flagged.length === 1 ? " is" : "s are"} not valid releases and not listed: `,
        ...page.flagged.flatMap((tag, i) => [i ? ", " : "", h("code", { title: tag.reason }, tag.name)])));
    }
    const wanted = location.hash.slice(1) || state.active || (page.versions[0] && page.versions[0].version);
    if (wanted) await select(wanted);
  } catch (error) {
    alert(error.status === 503 ? error.message : `Could not load the registry: ${error.message}`, "error");
  } finally {
    document.documentElement.dataset.state = "ready";
  }
}

main();

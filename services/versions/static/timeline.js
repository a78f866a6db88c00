// The release timeline: newest first, one entry per release, paged with the
// API's cursor ("Load older releases"), filtered by kind and author.

import { get, query } from "./api.js";
import { ago, h } from "./dom.js";
import { verdictText } from "./rollout.js";

const PAGE = 50;

export class Timeline {
  constructor(list, moreButton, countLabel, onSelect) {
    this.list = list;
    this.more = moreButton;
    this.count = countLabel;
    this.onSelect = onSelect;
    this.filters = { kind: "", author: "" };
    this.next = null;
    this.active = null;
    this.rollouts = new Map(); // version -> its rollout (set by the page from /rollouts)
    this.selected = null;
    this.more.addEventListener("click", () => this.load(false));
  }

  async load(reset = true) {
    if (reset) {
      this.next = null;
      this.list.replaceChildren();
    }
    const page = await get(`/versions${query({ ...this.filters, limit: PAGE, cursor: this.next })}`);
    this.active = page.active;
    for (const release of page.versions) this.list.append(this.entry(release));
    this.next = page.next;
    this.more.hidden = !page.next;
    const filtered = this.filters.kind || this.filters.author;
    this.count.textContent = `${page.total} release${page.total === 1 ? "" : "s"}${filtered ? " match" : ""}`;
    if (!page.versions.length && reset) {
      this.list.append(h("li", { class: "muted" }, "No releases match these filters."));
    }
    this.mark(this.selected);
    return page;
  }

  entry(release) {
    const isActive = release.version === this.active;
    const rollout = this.rollouts.get(release.version);
    return h("li", {},
      h("button", {
        type: "button",
        class: "release",
        "data-version": release.version,
        "data-kind": release.kind,
        onclick: () => this.onSelect(release.version),
      },
        h("span", { class: `dot ${release.kind}`, "aria-hidden": "true" }),
        h("div", { class: "line1" },
          h("span", { class: "version" }, release.version),
          h("span", { class: `pill ${release.kind}` }, release.kind),
          h("span", { class: "pill author" }, release.author),
          isActive ? h("span", { class: "pill active" }, "active") : null,
          rollout
            ? h("span", { class: `pill rollout ${rollout.status}`, "data-rollout": rollout.status,
                title: verdictText(rollout.verdict) || `rollout ${rollout.id}` }, `rollout ${rollout.status}`)
            : null,
          h("span", { class: "when", title: release.created_at || release.tagged_at },
            ago(release.created_at || release.tagged_at))),
        h("div", { class: "reason" }, release.reason || h("span", { class: "muted" }, "no reason given"))));
  }

  mark(version) {
    this.selected = version;
    for (const button of this.list.querySelectorAll(".release")) {
      button.classList.toggle("selected", button.dataset.version === version);
    }
  }
}

/* app.js: what the page shows follows its link. `#group=NAME` opens a group, `&seed=S` one
   of its runs, `&step=T` the snapshot nearest step T, so a link in a paper or an issue points
   at the exact picture; clicking changes the link (browser back goes back), moving the slider
   rewrites it in place. A run's own report opens its run directly. */
(function (PG) {
  "use strict";
  let root = null, groupBox = null, runBox = null;

  function parse(hash) {
    const q = new URLSearchParams(hash.replace(/^#/, ""));
    const num = (k) => (q.has(k) && q.get(k) !== "" && isFinite(+q.get(k)) ? +q.get(k) : null);
    return { group: q.get("group"), seed: num("seed"), step: num("step") };
  }

  function link(state) {
    const parts = [];
    if (state.group !== null && state.group !== undefined) {
      parts.push("group=" + encodeURIComponent(state.group));
    }
    for (const k of ["seed", "step"]) {
      if (state[k] !== null && state[k] !== undefined) parts.push(`${k}=${state[k]}`);
    }
    return "#" + parts.join("&");
  }

  /* Open a view (a click): a new history entry. */
  function go(state) {
    const target = link(state);
    if (location.hash === target) render(); else location.hash = target;
  }

  /* Keep the link in step with the slider without a new history entry. */
  function remember(extra) {
    const target = link({ ...parse(location.hash), ...extra });
    history.replaceState(null, "", target);
  }

  function render() {
    const raw = PG.data.raw;
    const state = parse(location.hash);
    let group = state.group === null ? null : PG.data.groupByName(state.group);
    if (raw.kind === "run") group = raw.groups[0];
    PG.study.highlight(group ? group.name : null);
    root.dataset.view = "study";
    groupBox.hidden = runBox.hidden = true;
    if (!group) return;
    if (raw.kind !== "run") {
      PG.group.show(groupBox, group);
      groupBox.hidden = false;
      root.dataset.view = "group";
      if (state.seed === null) groupBox.scrollIntoView({ block: "start" });
    }
    const pick = group.members.map(PG.data.member)
      .find((m) => raw.kind === "run" || (state.seed !== null && m.seed === state.seed));
    if (pick) {
      PG.run.show(runBox, pick, state.step);
      runBox.hidden = false;
      root.dataset.view = "run";
      if (state.seed !== null) runBox.scrollIntoView({ block: "start" });
    }
  }

  function start() {
    root = document.getElementById("explorer");
    root.hidden = false;
    const intro = document.createElement("p");
    intro.className = "pg-note";
    intro.textContent = PG.data.raw.kind === "run" ? "Drag the slider or press play to " +
      "scrub through the run's snapshots." : "Click a group (a row of the table above, a " +
      "map cell or a legend entry), then a seed; shift-click more groups to compare their " +
      "curves. The link in the address bar opens the same view.";
    root.appendChild(intro);
    if (PG.data.raw.kind !== "run") {
      PG.study.build(root, (name, event) => PG.study.toggle(name, event) || go({ group: name }));
    }
    groupBox = document.createElement("section");
    groupBox.id = "pg-group";
    runBox = document.createElement("section");
    runBox.id = "pg-run";
    root.appendChild(groupBox);
    root.appendChild(runBox);
    window.addEventListener("hashchange", render);
    render();
    root.dataset.ready = "1";
    // When the first view has been laid out and painted (ms since navigation started).
    requestAnimationFrame(() => setTimeout(() => {
      root.dataset.shownMs = performance.now().toFixed(0);
    }, 0));
  }

  PG.app = { go, remember, parse, link, start };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(window.PG = window.PG || {});

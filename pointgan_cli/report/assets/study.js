/* study.js: the study level. The groups' table (the page's own <table id="groups">) becomes
   sortable by any column and each row opens its group; a sweep over two fields gets its map
   as clickable cells; the convergence curve (share of a group inside its tolerance to the end,
   by step) and the tolerance curve (share converged at each tolerance) with the selected
   group drawn bold. */
(function (PG) {
  "use strict";
  const { chart, el } = PG.plot;
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const colour = (i) => PALETTE[i % PALETTE.length];

  /* A cell's number when it starts with one ("50% [..]", "+0.071 ± 0.121", "p = 0.03 vs
     x"), else its text. */
  function sortKey(text) {
    const m = text.replace(/^\s*p = /, "").match(/^\s*([+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)/i);
    return m ? parseFloat(m[1]) : text.trim().toLowerCase();
  }

  /* Click a header to sort by its column (again: the other way); click a row to open it. */
  function enhanceTable(table, open) {
    if (!table) return;
    const body = table.tBodies[0];
    table.classList.add("pg-sortable");
    Array.from(table.tHead.rows[0].cells).forEach((th, col) => {
      th.setAttribute("role", "button");
      th.title = "sort by " + th.textContent;
      th.addEventListener("click", () => {
        const up = th.getAttribute("aria-sort") !== "ascending";
        for (const o of table.tHead.rows[0].cells) o.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const ka = sortKey(a.cells[col].textContent), kb = sortKey(b.cells[col].textContent);
          const c = typeof ka === typeof kb ? (ka < kb ? -1 : ka > kb ? 1 : 0)
            : (typeof ka === "number" ? -1 : 1);
          return up ? c : -c;
        });
        for (const r of rows) body.appendChild(r);
      });
    });
    for (const row of body.rows) {
      if (!row.dataset.key) continue;
      row.classList.add("pg-clickable");
      row.addEventListener("click", (e) => open(row.dataset.key, e));
    }
  }

  /* The map: one cell per group, coloured by its success rate, "converged/n" inside. */
  function drawMap(parent, plane, open, named) {
    const wrap = document.createElement("div");
    wrap.className = "pg-map-box";
    const h = document.createElement("h3");
    h.textContent = `Map${named && plane.variant ? " " + plane.variant : ""}: ${plane.y.label} ` +
      `(rows) by ${plane.x.label} (columns)`;
    wrap.appendChild(h);
    const table = document.createElement("table");
    table.className = "pg-map";
    const byXY = new Map(plane.cells.map((c) => [c.x + "|" + c.y, c.group]));
    const head = table.createTHead().insertRow();
    head.insertCell().textContent = plane.y.field + " \\ " + plane.x.field;
    for (const x of plane.x.values) head.insertCell().textContent = x;
    const body = table.createTBody();
    for (const y of plane.y.values.slice().reverse()) {
      const row = body.insertRow();
      row.insertCell().textContent = y;
      for (const x of plane.x.values) {
        const cell = row.insertCell();
        const g = PG.data.groupByName(byXY.get(x + "|" + y));
        if (!g) continue;
        const rate = g.n ? g.converged / g.n : 0;
        cell.textContent = `${g.converged}/${g.n}`;
        cell.dataset.group = g.name;
        cell.title = g.name;
        cell.className = "pg-cell";
        cell.style.background = `hsl(${Math.round(120 * rate)}, 55%, ${88 - 30 * rate}%)`;
        cell.addEventListener("click", (e) => open(g.name, e));
      }
    }
    wrap.appendChild(table);
    parent.appendChild(wrap);
  }

  /* Share of each group inside its tolerance to the end, by step (its members' converged_at). */
  function drawConvergence(parent, groups) {
    const last = Math.max(1, ...groups.map((g) => g.steps || 1));
    const c = chart(parent, { id: "pg-convergence", x: [0, last], y: [0, 1], width: 470,
      title: "converged by step (inside the tolerance to the end)", xlabel: "step",
      ylabel: "share of seeds" });
    for (const g of groups) {
      const xs = [0], ys = [0];
      g.at.forEach((t, k) => { xs.push(t, t); ys.push(k / g.n, (k + 1) / g.n); });
      xs.push(g.steps || last); ys.push(g.at.length / Math.max(1, g.n));
      const p = c.line(xs, ys, { stroke: colour(groups.indexOf(g)), class: "pg-group-line" });
      p.dataset.group = g.name;
      el("title", {}, p).textContent = g.name;
    }
    return c.svg;
  }

  /* Share converged at each tolerance (the summary's success_by_tolerance when present). */
  function drawTolerance(parent, groups) {
    const tols = groups.flatMap((g) => g.tolcurve.map((t) => t[0]));
    const c = chart(parent, { id: "pg-tolerance", x: [Math.min(...tols), Math.max(...tols)],
      y: [0, 1], xlog: true, width: 470, title: "converged at each tolerance",
      xlabel: "tolerance (log)", ylabel: "share of seeds" });
    for (const g of groups) {
      const p = c.line(g.tolcurve.map((t) => t[0]), g.tolcurve.map((t) => t[1] / t[2]),
        { stroke: colour(groups.indexOf(g)), class: "pg-group-line" });
      p.dataset.group = g.name;
      el("title", {}, p).textContent = g.name;
      if (g.tol) c.el("line", { x1: c.px(g.tol), x2: c.px(g.tol), y1: c.py(0), y2: c.py(1),
        class: "pg-marker" });
    }
    return c.svg;
  }

  function legend(parent, groups, open) {
    const box = document.createElement("div");
    box.className = "pg-legend";
    if (groups.length > 40) {
      box.textContent = `${groups.length} groups: click a row or a cell to pick one.`;
    } else {
      groups.forEach((g, i) => {
        const item = document.createElement("span");
        item.className = "pg-legend-item";
        item.innerHTML = `<i style="background:${colour(i)}"></i>`;
        item.appendChild(document.createTextNode(g.name));
        item.addEventListener("click", (e) => open(g.name, e));
        box.appendChild(item);
      });
    }
    parent.appendChild(box);
  }

  function build(root, open) {
    const raw = PG.data.raw;
    enhanceTable(document.getElementById("groups"), open);
    enhanceTable(document.getElementById("failed"), (id) => {
      const m = raw.members.find((x) => x.id === id);
      if (m) PG.app.go({ group: raw.groups[m.g].name, seed: m.seed });
    });
    const box = document.createElement("div");
    box.id = "pg-study";
    root.appendChild(box);
    for (const plane of raw.maps) drawMap(box, plane, open, raw.maps.length > 1);
    const charts = document.createElement("div");
    charts.className = "pg-row";
    box.appendChild(charts);
    drawConvergence(charts, raw.groups);
    drawTolerance(charts, raw.groups);
    legend(box, raw.groups, open);
  }

  /* Groups added with shift- or ctrl-click: drawn bold beside the open one (for comparing). */
  const extra = new Set();

  /* A click that opens a group; with shift or ctrl held it adds the group to (or removes it
     from) the highlighted ones instead. Returns whether it only highlighted. */
  function toggle(name, event) {
    if (!event || !(event.shiftKey || event.ctrlKey || event.metaKey)) return false;
    if (extra.has(name)) extra.delete(name); else extra.add(name);
    highlight(current);
    return true;
  }

  let current = null;

  /* Bold the open group and the added ones everywhere (table rows, map cells, curves). */
  function highlight(name) {
    current = name;
    const on = new Set(extra);
    if (name !== null) on.add(name);
    document.querySelectorAll("[data-group], #groups tr[data-key]").forEach((e) => {
      const key = e.dataset.group || e.dataset.key;
      e.classList.toggle("pg-selected", on.has(key));
      e.classList.toggle("pg-dimmed", on.size > 0 && !on.has(key) &&
        e.classList.contains("pg-group-line"));
    });
  }

  PG.study = { build, highlight, toggle };
})(window.PG = window.PG || {});

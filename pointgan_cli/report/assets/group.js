/* group.js: the group level. A group's members' w and b over training (each seed a faint line
   coloured by its class, the median over seeds bold), its classes, and the list of its seeds
   with class and time to converge; clicking a seed opens its run. */
(function (PG) {
  "use strict";
  const { chart, extent, CLASS_COLOURS } = PG.plot;
  /* Seeds drawn at most per chart (a 1,024-seed group draws the first 400; the panel says so). */
  const MAX_DRAWN = 400;

  function median(values) {
    const v = values.filter(isFinite).sort((a, b) => a - b);
    if (!v.length) return NaN;
    const h = v.length >> 1;
    return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
  }

  /* The median at each snapshot over the members that share the most common step list. */
  function medianCurve(members, name) {
    const counts = new Map();
    for (const m of members) counts.set(m.steps, (counts.get(m.steps) || 0) + 1);
    let steps = null, best = 0;
    for (const [s, c] of counts) if (c > best) { steps = s; best = c; }
    const same = members.filter((m) => m.steps === steps).map((m) => m.series(name));
    const at = steps || [];
    return { steps: at, values: at.map((_, k) => median(same.map((s) => s[k]))) };
  }

  function drawParam(parent, group, members, name, target) {
    const all = members.flatMap((m) => m.series(name));
    const y = extent(all.concat([target]), 0.05, 0.2);
    const c = chart(parent, { id: "pg-group-" + name, x: [0, group.steps || 1], y, width: 470,
      title: `${name} over training`, xlabel: "step", ylabel: name });
    c.el("line", { x1: c.px(0), x2: c.px(group.steps || 1), y1: c.py(target),
      y2: c.py(target), class: "pg-marker" });
    let drawn = 0;
    const shown = members.slice(0, MAX_DRAWN);  // converged first: the failures drawn on top
    shown.sort((a, b) => (a.cls === "converged" ? 0 : 1) - (b.cls === "converged" ? 0 : 1));
    for (const m of shown) {
      const p = c.line(m.steps, m.series(name), { stroke: CLASS_COLOURS[m.cls] || "#777",
        class: "pg-member" });
      p.dataset.seed = m.seed;
      PG.plot.el("title", {}, p).textContent = `seed ${m.seed}: ${m.cls}`;
      p.addEventListener("click", () => PG.app.go({ group: group.name, seed: m.seed }));
      drawn++;
    }
    const med = medianCurve(members, name);
    c.line(med.steps, med.values, { stroke: "#111", class: "pg-median" });
    c.svg.dataset.drawn = drawn;
    return drawn;
  }

  function seedTable(group, members) {
    const table = document.createElement("table");
    table.id = "pg-seeds";
    table.createTHead().innerHTML =
      "<tr><th>seed</th><th>member</th><th>class</th><th>converged at step</th></tr>";
    const body = table.createTBody();
    for (const m of members) {
      const row = body.insertRow();
      row.dataset.seed = m.seed;
      row.className = "pg-clickable";
      for (const text of [m.seed, m.id, m.cls, m.at === null ? "never" : m.at]) {
        row.insertCell().textContent = text;
      }
      row.cells[2].style.color = CLASS_COLOURS[m.cls] || "";
      row.addEventListener("click", () => PG.app.go({ group: group.name, seed: m.seed }));
    }
    return table;
  }

  function show(root, group) {
    root.innerHTML = "";
    const names = PG.data.raw.names;
    const members = group.members.map(PG.data.member).filter((m) => m.steps.length);
    const counts = {};
    for (const i of group.members) {
      const c = PG.data.raw.members[i].c;
      counts[c] = (counts[c] || 0) + 1;
    }
    const h = document.createElement("h3");
    h.textContent = `Group ${group.name}`;
    root.appendChild(h);
    const p = document.createElement("p");
    p.className = "pg-classes";
    p.textContent = `${group.n} seeds, ${group.converged} converged. Classes: ` +
      Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`)
        .join(", ") + ".";
    const half = Math.ceil(group.n / 2);  // the median time to converge, when half converge
    p.textContent += group.at.length >= half && group.n
      ? ` Half the seeds are inside the tolerance to the end by step ${group.at[half - 1]}.`
      : " Fewer than half the seeds end inside the tolerance.";
    root.appendChild(p);
    const row = document.createElement("div");
    row.className = "pg-row";
    root.appendChild(row);
    const drawn = drawParam(row, group, members, names[0], 0);
    drawParam(row, group, members, names[1], group.real);
    root.dataset.drawn = drawn;
    root.dataset.total = group.n;
    const note = document.createElement("p");
    note.className = "pg-note";
    note.textContent = (drawn < group.n ? `Showing ${drawn} of ${group.n} seeds` :
      `All ${drawn} seeds shown`) + " (faint, coloured by class; the median bold). " +
      "Click a seed's line or row to open its run.";
    root.appendChild(note);
    root.appendChild(seedTable(group, group.members.map(PG.data.member)));
  }

  PG.group = { show, MAX_DRAWN };
})(window.PG = window.PG || {});

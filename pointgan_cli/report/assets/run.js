/* run.js: the run level, as `pointgan animate` shows a run. PointGAN: the generator's line
   G(x) = w x + b over x in [-1, 1] and D's curve D(v) over v, computed here from the
   snapshot's seven D parameters (1-2-1 MLP, tanh hidden, sigmoid out); the (w, b) trajectory;
   the losses below. The Dirac-GAN: (theta, psi) over its vector field (dirac.js). A slider over
   the snapshots and a play button move every panel together; the step goes into the link. */
(function (PG) {
  "use strict";
  const { chart, extent, fmt, CLASS_COLOURS } = PG.plot;
  const V_POINTS = 200;  // points of D's curve
  const PLAY_MS = 80;  // per snapshot while playing
  const G_COLOUR = "#1f77b4", D_COLOUR = "#ff7f0e", GLOSS_COLOUR = "#9467bd";

  /* D's logit W2 . tanh(W1 v + c1) + c2 at a member's snapshot k. */
  function logitOf(m, k) {
    const p = ["d_W1_0", "d_W1_1", "d_c1_0", "d_c1_1", "d_W2_0", "d_W2_1", "d_c2"]
      .map((n) => m.value(k, n));
    return (v) => p[4] * Math.tanh(p[0] * v + p[2]) + p[5] * Math.tanh(p[1] * v + p[3]) + p[6];
  }

  /* D(v) = sigmoid(logit) for a member's snapshot k. */
  function dOf(m, k) {
    const z = logitOf(m, k);
    return (v) => 1 / (1 + Math.exp(-z(v)));
  }

  /* [G losses, D losses, title]: recorded, or (parameters only) computed here. */
  function lossSeries(m) {
    if (m.hasLosses) {
      return [m.series("g_loss"), m.series("d_loss"), "losses: G (purple), D (orange)"];
    }
    const view = VIEWS[PG.data.raw.view];
    const pairs = m.steps.map((_, k) => view.losses(m, k, m.group.losses));
    return [pairs.map((p) => p[0]), pairs.map((p) => p[1]), view.lossTitle];
  }

  function capped(range, lo, hi) {
    return [Math.max(range[0], lo), Math.min(range[1], hi)];
  }

  /* How a run is drawn, by its game's view (Game.view in pointgan_cli/games/, carried in the
     page's data as "view"): its panels, and its losses computed from the parameters when a store read
     left them out. "line": G's line and D's curve over the data axis; "phase": the
     parameters over the game's vector field (dirac.js). */
  const VIEWS = {
    line: {
      panels: (row, m, group) => pointganPanels(row, m, group.real),
      losses: (m, k, s) => PG.losses.pointgan(logitOf(m, k), m.value(k, "w"), m.value(k, "b"),
        m.group.real, s),
      lossTitle: "losses, expected over x in [-1, 1] (computed here from the parameters): " +
        "G (purple), D (orange)",
    },
    phase: {
      panels: (row, m) => PG.dirac.panels(row, m),
      losses: (m, k, s) => PG.losses.dirac(m.value(k, "theta"), m.value(k, "psi"), s),
      lossTitle: "losses at (theta, psi): G (purple), D (orange)",
    },
  };


  function pointganPanels(row, m, real) {
    const w = m.series("w"), b = m.series("b");
    const ends = w.flatMap((wi, k) => [b[k] - Math.abs(wi), b[k] + Math.abs(wi)]);
    const v = capped(extent(ends.concat([-1, 1, real]), 0.08), Math.min(-1, real) - 4,
      Math.max(1, real) + 4);
    const y = capped(extent(ends.concat([0, 1]), 0.05), -4, Math.max(1, real) + 4);
    const main = chart(row, { id: "pg-main", x: v, y, width: 470, height: 300,
      title: "G(x) = w x + b (blue), D(v) (orange), the real value (black)", xlabel: "x, v" });
    main.el("line", { x1: main.px(real), x2: main.px(real), y1: main.py(y[0]),
      y2: main.py(y[1]), class: "pg-marker" });
    main.point(real, 0, { fill: "#000", r: 5, class: "pg-real" });
    const vs = Array.from({ length: V_POINTS },
      (_, i) => v[0] + (v[1] - v[0]) * i / (V_POINTS - 1));
    const dCurve = main.line([], [], { stroke: D_COLOUR, "stroke-width": 2, id: "pg-d-curve" });
    const gLine = main.line([], [], { stroke: G_COLOUR, "stroke-width": 2, id: "pg-g-line" });
    const traj = chart(row, { id: "pg-trajectory", x: extent(w.concat([0]), 0.08, 0.2),
      y: extent(b.concat([real]), 0.08, 0.2), width: 300, height: 300,
      title: "(w, b) trajectory", xlabel: "w", ylabel: "b" });
    traj.line(w, b, { stroke: "#bbb", class: "pg-path" });
    traj.point(0, real, { fill: "#000", r: 5 });
    const done = traj.line([], [], { stroke: G_COLOUR, "stroke-width": 1.5 });
    const dot = traj.point(w[0], b[0], { fill: G_COLOUR, id: "pg-current" });
    return (k) => {
      const d = dOf(m, k);
      dCurve.setAttribute("d", main.pathData(vs, vs.map(d)));
      gLine.setAttribute("d", main.pathData([-1, 1], [b[k] - w[k], b[k] + w[k]]));
      done.setAttribute("d", traj.pathData(w.slice(0, k + 1), b.slice(0, k + 1)));
      dot.setAttribute("cx", traj.px(w[k]));
      dot.setAttribute("cy", traj.py(b[k]));
      return `w = ${fmt(w[k])}, b = ${fmt(b[k])}, D(real) = ${fmt(d(real))}`;
    };
  }

  function lossPanel(parent, m) {
    const [g, d, title] = lossSeries(m);
    const c = chart(parent, { id: "pg-losses", x: [m.steps[0], m.steps[m.steps.length - 1] || 1],
      y: extent(g.concat(d), 0.05, 0.1), width: 780, height: 200, title, xlabel: "step",
      ylabel: "loss" });
    c.line(m.steps, g, { stroke: GLOSS_COLOUR });
    c.line(m.steps, d, { stroke: D_COLOUR });
    const cursor = c.el("line", { class: "pg-cursor" });
    const [y0, y1] = extent(g.concat(d), 0.05, 0.1);
    return (k) => {
      const x = c.px(m.steps[k]);
      for (const [a, v] of [["x1", x], ["x2", x], ["y1", c.py(y0)], ["y2", c.py(y1)]]) {
        cursor.setAttribute(a, v);
      }
    };
  }

  function show(root, m, step) {
    root.innerHTML = "";
    const raw = PG.data.raw;
    const group = m.group;
    const h = document.createElement("h3");
    h.textContent = raw.kind === "run" ? `Run ${m.id}` : `Seed ${m.seed} of ${group.name}`;
    root.appendChild(h);
    const verdict = document.createElement("p");
    verdict.className = "pg-verdict";
    verdict.innerHTML = `<b style="color:${CLASS_COLOURS[m.cls] || "#333"}"></b>: `;
    verdict.firstChild.textContent = m.cls;
    const reason = /[.!?]$/.test(m.reason) ? m.reason : m.reason + ".";
    verdict.appendChild(document.createTextNode(reason + (m.at === null ? "" :
      ` Inside the tolerance from step ${m.at} to the end.`)));
    root.appendChild(verdict);
    root.dataset.member = m.id;
    if (!m.steps.length) return;
    const controls = document.createElement("div");
    controls.className = "pg-controls";
    controls.innerHTML = '<button type="button" id="pg-play">play</button>' +
      `<input type="range" id="pg-slider" min="0" max="${m.steps.length - 1}" value="0">` +
      '<span id="pg-step"></span>';
    root.appendChild(controls);
    const row = document.createElement("div");
    row.className = "pg-row";
    root.appendChild(row);
    const draw = VIEWS[raw.view].panels(row, m, group);
    const cursor = lossPanel(root, m);
    const slider = controls.querySelector("#pg-slider");
    const label = controls.querySelector("#pg-step");
    function frame(k, fromUser) {
      slider.value = k;
      root.dataset.step = m.steps[k];
      label.textContent = `step ${m.steps[k]} (snapshot ${k + 1} of ${m.steps.length}): ` +
        draw(k);
      cursor(k);
      if (fromUser) PG.app.remember({ step: m.steps[k] });
    }
    slider.addEventListener("input", () => frame(+slider.value, true));
    let timer = null;
    const play = controls.querySelector("#pg-play");
    play.addEventListener("click", () => {
      if (timer) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
      if (+slider.value >= m.steps.length - 1) frame(0, true);
      play.textContent = "pause";
      timer = setInterval(() => {
        const k = +slider.value + 1;
        if (k >= m.steps.length || !root.isConnected || root.dataset.member !== m.id) {
          clearInterval(timer); timer = null; play.textContent = "play"; return;
        }
        frame(k, true);
      }, PLAY_MS);
    });
    let k = m.steps.length - 1;
    if (step !== null && step !== undefined) {
      k = 0;  // the snapshot nearest the step asked for
      m.steps.forEach((s, i) => { if (Math.abs(s - step) < Math.abs(m.steps[k] - step)) k = i; });
    }
    frame(k, false);
  }

  PG.run = { show, dOf, lossSeries };
})(window.PG = window.PG || {});

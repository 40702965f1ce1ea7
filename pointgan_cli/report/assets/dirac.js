/* dirac.js: the Dirac-GAN's run view: (theta, psi) over the game's vector field, the update
   direction (-dL_G/dtheta, -dL_D/dpsi) of the run's spec (losses as in pointgan_cli/losses.py,
   D's logit of "real" z(x) = -psi x, instance noise as a Gauss-Hermite expectation with the
   nodes the page embeds, consensus as the gradient of |v|^2 / 2), differentiated numerically:
   a picture, not the training arithmetic. LeCam's term is not drawn. */
(function (PG) {
  "use strict";
  const { chart, extent, fmt } = PG.plot;
  const ARROWS = 15;  // per side of the field's grid
  const H = 1e-5;  // step of the central differences
  const { gLoss, dParts } = PG.losses;

  function losses(theta, psi, s) {
    const nodes = s.nodes || [0], weights = s.weights || [1];
    let lg = 0, ld = 0;
    nodes.forEach((e, i) => {
      const zf = -psi * (theta + e), zr = -psi * e;
      const [lf, lr] = dParts(zf, zr, s);
      lg += weights[i] * gLoss(zf, s);
      ld += weights[i] * (s.fake_weight * lf + lr);
    });
    ld += 0.5 * (s.r1 + s.r2 + s.weight_decay) * psi * psi + s.gp_weight * (Math.abs(psi) - 1) ** 2;
    return [lg, ld];
  }

  function grads(theta, psi, s) {
    const gt = (losses(theta + H, psi, s)[0] - losses(theta - H, psi, s)[0]) / (2 * H);
    const gp = (losses(theta, psi + H, s)[1] - losses(theta, psi - H, s)[1]) / (2 * H);
    return [gt, gp];
  }

  function field(theta, psi, s) {
    let [gt, gp] = grads(theta, psi, s);
    if (s.consensus > 0) {
      const half = (t, p) => { const [a, b] = grads(t, p, s); return 0.5 * (a * a + b * b); };
      const h = 1e-4;
      gt += s.consensus * (half(theta + h, psi) - half(theta - h, psi)) / (2 * h);
      gp += s.consensus * (half(theta, psi + h) - half(theta, psi - h)) / (2 * h);
    }
    return [-gt, -gp];
  }

  function panels(row, m) {
    const th = m.series("theta"), ps = m.series("psi");
    const x = extent(th.concat([0]), 0.15, 0.5), y = extent(ps.concat([0]), 0.15, 0.5);
    const c = chart(row, { id: "pg-main", x, y, width: 470, height: 400,
      title: "(theta, psi) over the game's vector field", xlabel: "theta", ylabel: "psi" });
    const spec = m.group.field;
    const len = Math.min(c.px(x[1]) - c.px(x[0]), c.py(y[0]) - c.py(y[1])) / ARROWS * 0.42;
    for (let i = 0; i < ARROWS; i++) {
      for (let j = 0; j < ARROWS; j++) {
        const t = x[0] + (x[1] - x[0]) * (i + 0.5) / ARROWS;
        const p = y[0] + (y[1] - y[0]) * (j + 0.5) / ARROWS;
        const [dt, dp] = field(t, p, spec);
        const dx = dt * (c.px(1) - c.px(0)), dy = dp * (c.py(1) - c.py(0));
        const n = Math.hypot(dx, dy);
        if (!(n > 0) || !isFinite(n)) continue;
        const x0 = c.px(t), y0 = c.py(p), x1 = x0 + dx / n * len, y1 = y0 + dy / n * len;
        c.el("path", { class: "pg-arrow", d: `M${x0 - dx / n * len} ${y0 - dy / n * len}` +
          `L${x1} ${y1}M${x1 - (dx + dy * 0.6) / n * len * 0.45} ` +
          `${y1 - (dy - dx * 0.6) / n * len * 0.45}L${x1} ${y1}` +
          `L${x1 - (dx - dy * 0.6) / n * len * 0.45} ${y1 - (dy + dx * 0.6) / n * len * 0.45}` });
      }
    }
    c.point(0, 0, { fill: "#000", r: 5 });
    c.line(th, ps, { stroke: "#bbb" });
    const done = c.line([], [], { stroke: "#1f77b4", "stroke-width": 2, id: "pg-progress" });
    const dot = c.point(th[0], ps[0], { fill: "#1f77b4", id: "pg-current" });
    return (k) => {
      done.setAttribute("d", c.pathData(th.slice(0, k + 1), ps.slice(0, k + 1)));
      dot.setAttribute("cx", c.px(th[k]));
      dot.setAttribute("cy", c.py(ps[k]));
      return `theta = ${fmt(th[k])}, psi = ${fmt(ps[k])}`;
    };
  }

  PG.dirac = { panels, field };
})(window.PG = window.PG || {});

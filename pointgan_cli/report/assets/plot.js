/* plot.js: small SVG charts (axes with round ticks, lines, points, arrows): all the page
   draws. SVG rather than canvas so that every curve is an element a reader can hover and a
   test can count. */
(function (PG) {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  /* Each class's colour: the stability map's (sweep/mapplot.py), converged as in animate. */
  const CLASS_COLOURS = {
    converged: "#1b7837", orbiting: "#8e6cc1", stuck: "#e08a2e", still_approaching: "#5fa8d3",
    diverging: "#c0392b", drifting: "#a0a060", diverged: "#333333", not_run: "#b0b0b0",
    unreadable: "#b0b0b0",
  };

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  function niceTicks(lo, hi, count) {
    const span = hi - lo;
    if (!(span > 0) || !isFinite(span)) return [lo];
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return out;
  }

  /* Powers of ten, and 2 and 5 times them when the axis spans less than two decades. */
  function logTicks(lo, hi) {
    const out = [];
    const steps = Math.log10(hi / lo) < 2 ? [1, 2, 5] : [1];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const f of steps) {
        const t = f * Math.pow(10, e);
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) out.push(t);
      }
    }
    return out;
  }

  function fmt(t) {
    const a = Math.abs(t);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return t.toExponential(0);
    return String(+t.toPrecision(4));
  }

  /* A chart in `parent`: opts.x / opts.y are [lo, hi]; opts.ylog / opts.xlog for log axes.
     Returns {svg, px, py, line, points, clear} with px/py mapping data to pixels. */
  function chart(parent, opts) {
    const W = opts.width || 520, H = opts.height || 260;
    const m = { l: 52, r: 22, t: opts.title ? 24 : 10, b: 36 };
    const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "pg-chart" },
      parent);
    if (opts.id) svg.id = opts.id;
    const [x0, x1] = opts.x, [y0, y1] = opts.y;
    const sx = opts.xlog ? Math.log10 : (v) => v, sy = opts.ylog ? Math.log10 : (v) => v;
    const px = (v) => m.l + (sx(v) - sx(x0)) / (sx(x1) - sx(x0) || 1) * (W - m.l - m.r);
    const py = (v) => H - m.b - (sy(v) - sy(y0)) / (sy(y1) - sy(y0) || 1) * (H - m.t - m.b);
    const axes = el("g", { class: "pg-axes" }, svg);
    const xt = opts.xlog ? logTicks(x0, x1) : niceTicks(x0, x1, 6);
    const yt = opts.ylog ? logTicks(y0, y1) : niceTicks(y0, y1, 5);
    for (const t of xt) {
      el("line", { x1: px(t), x2: px(t), y1: m.t, y2: H - m.b, class: "pg-grid" }, axes);
      el("text", { x: px(t), y: H - m.b + 14, "text-anchor": "middle" }, axes).textContent =
        fmt(t);
    }
    for (const t of yt) {
      el("line", { x1: m.l, x2: W - m.r, y1: py(t), y2: py(t), class: "pg-grid" }, axes);
      el("text", { x: m.l - 5, y: py(t) + 4, "text-anchor": "end" }, axes).textContent = fmt(t);
    }
    el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b,
      class: "pg-frame" }, axes);
    if (opts.xlabel) {
      el("text", { x: (m.l + W - m.r) / 2, y: H - 4, "text-anchor": "middle",
        class: "pg-label" }, axes).textContent = opts.xlabel;
    }
    if (opts.ylabel) {
      el("text", { x: 12, y: (m.t + H - m.b) / 2, "text-anchor": "middle", class: "pg-label",
        transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})` }, axes).textContent = opts.ylabel;
    }
    if (opts.title) {
      el("text", { x: m.l, y: 16, class: "pg-title" }, axes).textContent = opts.title;
    }
    const clip = "pg-clip-" + Math.random().toString(36).slice(2);
    el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b },
      el("clipPath", { id: clip }, el("defs", {}, svg)));
    const body = el("g", { "clip-path": `url(#${clip})` }, svg);
    const ok = (x, y) => isFinite(x) && isFinite(y) && (!opts.ylog || y > 0);

    function pathData(xs, ys) {
      let d = "", pen = false;
      for (let i = 0; i < xs.length; i++) {
        if (!ok(xs[i], ys[i])) { pen = false; continue; }
        d += (pen ? "L" : "M") + px(xs[i]).toFixed(1) + " " + py(ys[i]).toFixed(1);
        pen = true;
      }
      return d;
    }

    return {
      svg, px, py, body, pathData,
      line: (xs, ys, attrs) => el("path", { d: pathData(xs, ys), fill: "none", ...attrs }, body),
      point: (x, y, attrs) => el("circle", { cx: px(x), cy: py(y), r: 4, ...attrs }, body),
      el: (name, attrs) => el(name, attrs, body),
    };
  }

  /* [lo, hi] covering the finite values (padded a little), at least `least` wide. */
  function extent(values, pad, least) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) if (isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!isFinite(lo)) return [-1, 1];
    const p = Math.max((hi - lo) * (pad || 0.05), (least || 0) / 2);
    return [lo - p, hi + p];
  }

  PG.plot = { chart, el, extent, fmt, CLASS_COLOURS };
})(window.PG = window.PG || {});

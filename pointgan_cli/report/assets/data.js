/* data.js: the numbers the page embeds once (a JSON block written by report/explore.py) and
   the decoding of each member's snapshots. A member's snapshots are float16 in base64 (row per
   snapshot, one column per name in data.columns); they are decoded when first asked for, so
   the first view of a 1,024-member sweep decodes nothing. */
(function (PG) {
  "use strict";
  const raw = JSON.parse(document.getElementById("pg-data").textContent);
  let halfTable = null;  // every float16 bit pattern as a float, built on first use

  function half(h) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) return sign * frac * Math.pow(2, -24);
    if (exp === 31) return frac ? NaN : sign * Infinity;
    return sign * (1 + frac / 1024) * Math.pow(2, exp - 15);
  }

  function decode(b64) {
    if (!halfTable) {
      halfTable = new Float64Array(65536);
      for (let h = 0; h < 65536; h++) halfTable[h] = half(h);
    }
    const bin = atob(b64);
    const out = new Float64Array(bin.length >> 1);
    for (let i = 0; i < out.length; i++) {
      out[i] = halfTable[bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8)];
    }
    return out;
  }

  const cache = new Map();

  /* Member i: id, seed, class, reason, converged_at, group, its (decimated) steps and
     series(name) / value(k, name) over its snapshots. */
  function member(i) {
    if (cache.has(i)) return cache.get(i);
    const m = raw.members[i];
    const cols = raw.columns;
    const values = m.p ? decode(m.p) : new Float64Array(0);
    const steps = m.st === null ? [] : raw.steps[m.st];
    const width = m.nl ? cols.length - 2 : cols.length;  // nl: no losses stored
    const out = {
      index: i, id: m.id, seed: m.seed, cls: m.c, reason: m.r, at: m.at,
      group: raw.groups[m.g], steps: steps,
      hasLosses: !m.nl,
      value: (k, name) => {
        const j = cols.indexOf(name);
        return j < width ? values[k * width + j] : NaN;
      },
      series: (name) => {
        const j = cols.indexOf(name);
        return steps.map((_, k) => (j < width ? values[k * width + j] : NaN));
      },
    };
    cache.set(i, out);
    return out;
  }

  function groupByName(name) {
    return raw.groups.find((g) => g.name === name) || null;
  }

  PG.data = { raw, member, groupByName, decode };
})(window.PG = window.PG || {});

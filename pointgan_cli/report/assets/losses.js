/* losses.js: the losses of pointgan_cli/engine/losses.py on D's logits (z of "real"), for
   the Dirac-GAN's field (dirac.js) and for the losses of a member whose snapshots carry only
   parameters (a sweep's store recomputes them with the run's own x; the page cannot, so it
   shows their expectation over x ~ U[-1, 1], and says so). */
(function (PG) {
  "use strict";
  const X_POINTS = 64;  // midpoints of [-1, 1] for the expectation over x
  const softplus = (z) => (z > 30 ? z : Math.log1p(Math.exp(z)));

  function gLoss(z, s) {
    if (s.loss === "bce") return s.g_loss === "minimax" ? -softplus(z) : softplus(-z);
    if (s.loss === "lsgan") return 0.5 * (z - 1) * (z - 1);
    return -z;  // hinge and wgan
  }

  /* [L_fake, L_real] of one fake logit and one real logit. */
  function dParts(zf, zr, s) {
    const e = s.label_easing;
    if (s.loss === "bce") return [softplus(zf) - e * zf, softplus(zr) - (1 - e) * zr];
    if (s.loss === "lsgan") return [0.5 * (zf - e) ** 2, 0.5 * (zr - (1 - e)) ** 2];
    if (s.loss === "hinge") return [Math.max(0, 1 + zf), Math.max(0, 1 - zr)];
    return [zf, -zr];
  }

  /* PointGAN at a snapshot: [G loss, D loss] with D's logit `logit`, generator (w, b), as
     engine/snapshots.py takes them (D loss (F L_fake + L_real) / (1 + F)), x over [-1, 1]. */
  function pointgan(logit, w, b, real, s) {
    let g = 0, lf = 0;
    const lr = dParts(0, logit(real), s)[1];
    for (let i = 0; i < X_POINTS; i++) {
      const zf = logit(w * (-1 + (2 * i + 1) / X_POINTS) + b);
      g += gLoss(zf, s) / X_POINTS;
      lf += dParts(zf, 0, s)[0] / X_POINTS;
    }
    return [g, (s.fake_weight * lf + lr) / (1 + s.fake_weight)];
  }

  /* The Dirac-GAN at (theta, psi), noise-free as its snapshots record it: z_fake = -psi theta,
     z_real = 0, D loss F L_fake + L_real. */
  function dirac(theta, psi, s) {
    const zf = -psi * theta;
    const [lf, lr] = dParts(zf, 0, s);
    return [gLoss(zf, s), s.fake_weight * lf + lr];
  }

  PG.losses = { gLoss, dParts, pointgan, dirac, softplus };
})(window.PG = window.PG || {});
